"""Text prompts → COCO classes and colours, and the text backend built on the COCO detector."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")

from pictograph.vision.base import Prediction
from pictograph.vision.coco_detector import COCO_CLASSES
from pictograph.vision.registry import get_spec, locate
from pictograph.vision.text_match import (
    COLOUR_MIN_FRACTION,
    MatchedTextDetector,
    PromptQuery,
    colour_fraction,
    load,
    matched_classes,
    parse_prompt,
    plural,
)

VEHICLES = ("car", "truck", "bus", "motorcycle")


@pytest.mark.parametrize(
    ("prompt", "classes", "colour"),
    [
        ("car", ("car",), None),
        ("A Car", ("car",), None),
        ("the parked cars", ("car",), None),
        ("buses", ("bus",), None),
        ("people", ("person",), None),
        ("men", ("person",), None),
        ("a woman", ("person",), None),
        ("children", ("person",), None),
        ("pedestrians", ("person",), None),
        ("mice", ("mouse",), None),
        ("knives", ("knife",), None),
        ("benches", ("bench",), None),
        ("skis", ("skis",), None),
        ("a ski", ("skis",), None),
        ("sheep", ("sheep",), None),
        ("wine glasses", ("wine glass",), None),
        ("glasses of wine", ("wine glass",), None),
        ("stop_sign", ("stop sign",), None),
        ("fire-hydrants", ("fire hydrant",), None),
        ("automobile", ("car",), None),
        ("sedans", ("car",), None),
        ("motorbike", ("motorcycle",), None),
        ("aeroplanes", ("airplane",), None),
        ("aircraft", ("airplane",), None),
        ("television", ("tv",), None),
        ("monitors", ("tv",), None),
        ("sofa", ("couch",), None),
        ("smartphones", ("cell phone",), None),
        ("mobile phone", ("cell phone",), None),
        ("table", ("dining table",), None),
        ("plants", ("potted plant",), None),
        ("hot dogs", ("hot dog",), None),
        ("teddy bear", ("teddy bear",), None),
        ("baseball bat", ("baseball bat",), None),
        ("vehicles", VEHICLES, None),
        ("vehicle", VEHICLES, None),
        ("animals", ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
                     "giraffe"), None),
        ("cats and dogs", ("cat", "dog"), None),
        ("red car", ("car",), "red"),
        ("the big Blue buses", ("bus",), "blue"),
        ("grey sofa", ("couch",), "gray"),
        ("gray cats", ("cat",), "gray"),
        ("person in red", ("person",), "red"),
        ("orange car", ("car",), "orange"),
        ("an orange", ("orange",), None),
        ("oranges", ("orange",), None),
        ("bus stop", (), None),
        ("car wheel", (), None),
        ("license plate", (), None),
        ("red", (), "red"),
        ("", (), None),
    ],
)  # fmt: skip
def test_parse_prompt(prompt: str, classes: tuple[str, ...], colour: str | None) -> None:
    assert parse_prompt(prompt) == PromptQuery(classes=classes, colour=colour)


@pytest.mark.parametrize("name", COCO_CLASSES)
def test_every_class_name_and_its_plural_match_itself(name: str) -> None:
    assert matched_classes(name) == (name,)
    assert matched_classes(plural(name)) == (name,)
    assert matched_classes(name.replace(" ", "_")) == (name,)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("car", "cars"), ("bus", "buses"), ("bench", "benches"), ("toothbrush", "toothbrushes"),
        ("puppy", "puppies"), ("boy", "boys"), ("knife", "knives"), ("mouse", "mice"),
        ("sheep", "sheep"), ("wine glass", "wine glasses"), ("person", "people"),
    ],
)  # fmt: skip
def test_plural(word: str, expected: str) -> None:
    assert plural(word) == expected


def swatch(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (4, 4, 3)).copy()


ALL = np.ones((4, 4), dtype=bool)


@pytest.mark.parametrize(
    ("rgb", "colour"),
    [
        ((200, 30, 30), "red"), ((120, 15, 20), "red"), ((255, 140, 0), "orange"),
        ((240, 220, 30), "yellow"), ((40, 160, 50), "green"), ((30, 60, 200), "blue"),
        ((0, 150, 220), "blue"), ((120, 40, 160), "purple"), ((255, 105, 180), "pink"),
        ((250, 170, 180), "pink"), ((120, 70, 25), "brown"), ((10, 10, 10), "black"),
        ((245, 245, 245), "white"), ((128, 128, 128), "gray"),
    ],
)  # fmt: skip
def test_colour_swatches(rgb: tuple[int, int, int], colour: str) -> None:
    assert colour_fraction(swatch(rgb), ALL, colour) == 1.0
    # The opposite, roughly: the other colours of this table do not claim it, save neighbours.
    neighbours = {
        "red": {"pink", "brown"}, "orange": {"brown"}, "brown": {"orange", "red"},
        "pink": {"red", "purple"}, "purple": {"pink"}, "gray": set(), "white": set(),
        "black": set(), "yellow": set(), "green": set(), "blue": set(),
    }  # fmt: skip
    for other in neighbours:
        if other != colour and other not in neighbours[colour]:
            assert colour_fraction(swatch(rgb), ALL, other) == 0.0, other


class StubDetector:
    """A COCO detector that always finds the same things and counts its calls."""

    device = "cpu"

    def __init__(self, found: list[Prediction]) -> None:
        self.found = found
        self.calls = 0

    def detect(self, image: np.ndarray, threshold: float) -> list[Prediction]:
        self.calls += 1
        return [p for p in self.found if p.score >= threshold]


def stub_backend() -> tuple[MatchedTextDetector, StubDetector]:
    stub = StubDetector(
        [
            Prediction(box=(0, 0, 10, 10), score=0.9, label="dog"),
            Prediction(box=(20, 0, 30, 10), score=0.8, label="car"),
            Prediction(box=(40, 0, 50, 10), score=0.4, label="person"),
        ]
    )
    return MatchedTextDetector(stub), stub  # type: ignore[arg-type]


def test_detect_runs_once_and_labels_by_prompt() -> None:
    backend, stub = stub_backend()
    image = np.zeros((10, 60, 3), dtype=np.uint8)
    found = backend.detect(image, ["dogs", "animals", "red vehicles", "people", "giraffe"], 0.5)
    assert stub.calls == 1
    assert [(p.label, p.box) for p in found] == [
        ("dogs", (0, 0, 10, 10)),
        ("animals", (0, 0, 10, 10)),
        ("red vehicles", (20, 0, 30, 10)),
    ]
    assert all(p.mask is None for p in found)
    assert stub.found[0].label == "dog"  # the detector's own predictions are not relabelled


def test_detect_skips_the_detector_when_nothing_matches() -> None:
    backend, stub = stub_backend()
    assert backend.detect(np.zeros((10, 10, 3), np.uint8), ["license plate"], 0.1) == []
    assert stub.calls == 0


def test_colour_check_on_the_mask() -> None:
    backend, _ = stub_backend()
    image = np.zeros((40, 40, 3), dtype=np.uint8)
    image[:, :20] = (210, 25, 30)  # red left half
    image[:, 20:] = (25, 40, 200)  # blue right half
    left = np.zeros((40, 40), dtype=bool)
    left[5:35, 2:18] = True
    right = np.zeros((40, 40), dtype=bool)
    right[5:35, 22:38] = True

    def car(prompt: str, mask: np.ndarray | None, box: tuple[float, ...]) -> Prediction:
        return Prediction(box=box, score=0.9, mask=mask, label=prompt)  # type: ignore[arg-type]

    assert backend.accepts(image, car("red car", left, (2, 5, 18, 35)))
    assert not backend.accepts(image, car("red car", right, (22, 5, 38, 35)))
    assert backend.accepts(image, car("blue car", right, (22, 5, 38, 35)))
    assert backend.accepts(image, car("car", right, (22, 5, 38, 35)))  # no colour word
    # No mask yet: the box is read instead (here 10 of 30 columns red: 33 %).
    assert backend.accepts(image, car("red car", None, (10, 0, 40, 40)))
    assert not backend.accepts(image, car("red car", None, (14, 0, 40, 40)))


def test_only_colour_prompts_need_masks() -> None:
    backend, _ = stub_backend()
    assert backend.needs_mask("red cars") and backend.needs_mask("person in white")
    assert not backend.needs_mask("cars") and not backend.needs_mask("an orange")


def test_colour_threshold_is_a_share_of_the_mask() -> None:
    image = np.full((10, 10, 3), (25, 40, 200), dtype=np.uint8)
    image[:4] = (210, 25, 30)  # 40 % red
    assert colour_fraction(image, np.ones((10, 10), bool), "red") == pytest.approx(0.4)
    assert 0.4 >= COLOUR_MIN_FRACTION > 0.2


def test_real_detector_answers_a_prompt(tmp_path_factory: pytest.TempPathFactory) -> None:
    location, reason = locate(get_spec("ssd-mobilenet-v2-coco"), tmp_path_factory.mktemp("m"))
    if location is None:
        pytest.skip(reason or "detector weights missing")
    backend = load(location, "cpu")
    found = backend.detect(skimage_data.chelsea(), ["kittens", "dog"], 0.5)
    assert [p.label for p in found] == ["kittens"]
    assert found[0].score > 0.8
