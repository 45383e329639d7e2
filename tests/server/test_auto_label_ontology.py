"""The batch request's ontology, in every form the peers accept, without running a model."""

from __future__ import annotations

from typing import Any

import pytest

from pictograph.server.db.tables import Project
from pictograph.server.errors import Invalid, NotFound
from pictograph.server.services.auto_label import BatchRequest, _model, build_ontology


def project(*classes: tuple[str, str]) -> Project:
    return Project(name="signs", classes=[{"name": name, "type": kind} for name, kind in classes])


def ontology(
    request: BatchRequest, target: Project, model_type: str = "sam3"
) -> tuple[list[tuple[Any, ...]], list[str]]:
    entries, missing = build_ontology(None, target, request, model_type)  # type: ignore[arg-type]
    return [(e.prompt, e.class_name, e.output_type, e.threshold) for e in entries], missing


def test_every_ontology_form_normalises_to_prompt_class_pairs() -> None:
    signs = project(("dog", "polygon"), ("cat", "bbox"))
    as_map = BatchRequest("signs", ontology={"a dog": "dog", "a cat": "cat"})
    assert ontology(as_map, signs)[0] == [
        ("a dog", "dog", "polygon", 0.5),
        ("a cat", "cat", "bbox", 0.5),
    ]
    as_names = BatchRequest("signs", ontology=["dog", "cat"])
    assert [row[:2] for row in ontology(as_names, signs)[0]] == [("dog", "dog"), ("cat", "cat")]
    as_objects = BatchRequest(
        "signs", ontology=[{"class": "dog", "prompt": "a dog"}, {"class": "cat"}]
    )
    assert [row[:2] for row in ontology(as_objects, signs)[0]] == [("a dog", "dog"), ("cat", "cat")]


def test_classes_give_output_types_and_missing_classes_are_reported() -> None:
    request = BatchRequest(
        "signs",
        classes=[
            {"name": "stop_sign", "output_type": "bbox"},
            {"name": "yield", "output_type": "keypoint", "prompt": "yield sign"},
        ],
    )
    rows, missing = ontology(request, project(("stop_sign", "polygon")))
    assert rows == [
        ("stop_sign", "stop_sign", "bbox", 0.5),
        ("yield sign", "yield", "keypoint", 0.5),
    ]
    assert missing == ["yield"]


def test_derived_from_the_dataset_with_thresholds_and_labels() -> None:
    signs = project(("dog", "polygon"), ("cat", "box"), ("bird", "keypoint"))
    request = BatchRequest(
        "signs", confidence_threshold=0.4, confidence_thresholds={"cat": 0.8}, labels=["cat", "dog"]
    )
    rows, missing = ontology(request, signs)
    assert rows == [("dog", "dog", "polygon", 0.4), ("cat", "cat", "bbox", 0.8)]
    assert missing == []  # a derived ontology never adds classes


def test_yolo_keeps_what_the_detector_knows() -> None:
    signs = project(("person", "bbox"), ("pothole", "polygon"), ("cars", "bbox"))
    rows, _ = ontology(BatchRequest("signs"), signs, "yolo")
    assert [row[1] for row in rows] == ["person", "cars"]


@pytest.mark.parametrize(
    ("request_", "target", "model_type", "error_type"),
    [
        (BatchRequest("signs"), project(), "sam3", "DATASET_HAS_NO_CLASSES"),
        (BatchRequest("signs"), project(("pothole", "polygon")), "yolo", "NO_MATCHING_CLASSES"),
        (
            BatchRequest("signs", ontology={"zebra crossing": "crossing", "car": "car"}),
            project(),
            "yolo",
            "NO_MATCHING_CLASSES",
        ),
        (
            BatchRequest("signs", ontology=["dog"], labels=["cat"]),
            project(("dog", "bbox")),
            "sam3",
            "NO_MATCHING_CLASSES",
        ),
    ],
)
def test_ontology_errors_carry_their_type(
    request_: BatchRequest, target: Project, model_type: str, error_type: str
) -> None:
    with pytest.raises(Invalid) as error:
        build_ontology(None, target, request_, model_type)  # type: ignore[arg-type]
    assert error.value.error_code == error_type and error.value.extra["error_type"] == error_type


@pytest.mark.parametrize(
    ("request_", "loc"),
    [
        (
            BatchRequest("signs", classes=[{"name": "dog", "output_type": "mesh"}]),
            ["classes", 0, "output_type"],
        ),
        (
            BatchRequest("signs", classes=[{"name": "dog", "output_type": "tag"}]),
            ["classes", 0, "output_type"],
        ),
        (BatchRequest("signs", ontology={"": "dog"}), ["ontology", ""]),
        (BatchRequest("signs", ontology=[{"prompt": "a dog"}]), ["ontology", 0]),
        (
            BatchRequest("signs", ontology=["dog"], confidence_threshold=1.5),
            ["confidence_threshold"],
        ),
        (
            BatchRequest("signs", ontology=["dog"], confidence_thresholds={"dog": -1}),
            ["confidence_thresholds", "dog"],
        ),
    ],
)
def test_invalid_requests_name_the_field(request_: BatchRequest, loc: list[Any]) -> None:
    with pytest.raises(Invalid) as error:
        build_ontology(None, project(("dog", "bbox")), request_, "sam3")  # type: ignore[arg-type]
    assert error.value.extra["errors"][0]["loc"] == loc


def test_model_types() -> None:
    assert _model(BatchRequest("signs")) == "sam3"
    assert _model(BatchRequest("signs", model_id="sam3")) == "sam3"
    assert _model(BatchRequest("signs", model_type="yolo")) == "yolo"
    assert _model(BatchRequest("signs", model_id="0b3f4c1e-trained")) == "custom"
    assert _model(BatchRequest("signs", model_type="trained", model_id="0b3f")) == "trained"
    with pytest.raises(Invalid) as missing:
        _model(BatchRequest("signs", model_type="custom"))
    assert missing.value.error_code == "MISSING_MODEL_ID"
    with pytest.raises(Invalid):
        _model(BatchRequest("signs", model_type="dino"))
