"""The auto-tag taxonomy: sizes, spelling, and the ImageNet table that feeds it."""

from __future__ import annotations

import pytest

from pictograph.vision.embedding import TAG_CATEGORIES
from pictograph.vision.taxonomy import (
    ATTRIBUTES,
    IMAGENET_OBJECTS,
    MEASURED_ATTRIBUTES,
    OBJECTS,
    SCENES,
    TAXONOMY,
    is_known,
    normalize_tag,
)


def test_categories_and_sizes() -> None:
    assert tuple(TAXONOMY) == TAG_CATEGORIES
    assert TAXONOMY == {"objects": OBJECTS, "scenes": SCENES, "attributes": ATTRIBUTES}
    assert 120 <= len(OBJECTS) <= 200
    assert 40 <= len(SCENES) <= 80
    assert 20 <= len(ATTRIBUTES) <= 40


@pytest.mark.parametrize("category", TAG_CATEGORIES)
def test_labels_are_unique_and_normalised(category: str) -> None:
    labels = TAXONOMY[category]
    assert len(set(labels)) == len(labels)
    assert all(normalize_tag(label) == label for label in labels)


def test_no_label_in_two_categories() -> None:
    assert not set(OBJECTS) & set(SCENES)
    assert not set(OBJECTS) & set(ATTRIBUTES)
    assert not set(SCENES) & set(ATTRIBUTES)


def test_common_labels_are_there() -> None:
    for label in ("car", "truck", "person", "bicycle", "dog", "cat", "sign", "building"):
        assert label in OBJECTS
    for label in ("outdoor", "indoor", "urban", "rural", "daytime", "nighttime"):
        assert label in SCENES
    for label in ("blurry", "dark", "bright", "high-contrast", "low-light"):
        assert label in MEASURED_ATTRIBUTES


def test_measured_attributes_are_attributes() -> None:
    assert set(MEASURED_ATTRIBUTES) <= set(ATTRIBUTES)


def test_imagenet_table() -> None:
    assert set(IMAGENET_OBJECTS.values()) <= set(OBJECTS)
    assert all(0 <= index < 1000 for index in IMAGENET_OBJECTS)
    assert all(IMAGENET_OBJECTS[index] == "dog" for index in range(151, 269))
    assert all(IMAGENET_OBJECTS[index] == "cat" for index in range(281, 286))
    assert IMAGENET_OBJECTS[817] == "car"  # sports car
    assert IMAGENET_OBJECTS[867] == "truck"  # trailer truck


def test_imagenet_table_matches_the_class_names() -> None:
    """Spot checks against torchvision's class names, where the table came from."""
    torchvision = pytest.importorskip("torchvision")
    names = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.meta["categories"]
    expected = {
        "tabby": "cat", "golden retriever": "dog", "school bus": "bus", "mountain bike": "bicycle",
        "traffic light": "traffic-light", "airliner": "airplane", "crane": "crane",
        "crane bird": "bird", "laptop": "laptop", "pizza": "pizza", "umbrella": "umbrella",
    }  # fmt: skip
    for name, label in expected.items():
        assert IMAGENET_OBJECTS[names.index(name)] == label, name


@pytest.mark.parametrize(
    ("typed", "tag"),
    [
        ("high contrast", "high-contrast"),
        ("High_Contrast", "high-contrast"),
        ("  low--light ", "low-light"),
        ("Traffic Light", "traffic-light"),
        ("car", "car"),
        ("-dark-", "dark"),
    ],
)
def test_normalize_tag(typed: str, tag: str) -> None:
    assert normalize_tag(typed) == tag


def test_is_known() -> None:
    assert is_known("objects", "Traffic light")
    assert is_known("attributes", "high_contrast")
    assert not is_known("scenes", "car")
    assert not is_known("colours", "red")
