"""``client.auto_annotate`` and ``auto_annotate_dataset`` against the live server's real models.

The server runs the bundled models (LiteMedSAM for point / box, the SSD COCO detector for text
and batch jobs). Images: a drawn disc on a flat background (its true mask is known), the
scikit-image astronaut (a person) and cat (chelsea), each under 320 px so a test stays quick.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from pictograph import BatchClass, Client
from pictograph.exceptions import (
    ApiError,
    NotFoundError,
    PaymentRequiredError,
    PollTimeoutError,
    ValidationError,
)
from pictograph.formats._masks import polygon_to_mask
from pictograph.workflows import auto_annotate_dataset
from tests.live_server import LiveServer
from tests.server.helpers import database

DISC_CENTRE, DISC_RADIUS, DISC_SIZE = (150, 110), 55, (320, 240)


def disc_mask() -> np.ndarray:
    ys, xs = np.mgrid[: DISC_SIZE[1], : DISC_SIZE[0]]
    return (xs + 0.5 - DISC_CENTRE[0]) ** 2 + (ys + 0.5 - DISC_CENTRE[1]) ** 2 <= DISC_RADIUS**2


def write_disc(path: Path) -> Path:
    pixels = np.full((DISC_SIZE[1], DISC_SIZE[0], 3), 215, dtype=np.uint8)
    pixels[disc_mask()] = (200, 40, 40)
    PILImage.fromarray(pixels).save(path)
    return path


def write_photo(path: Path, name: str) -> Path:
    import skimage.data

    photo = PILImage.fromarray(getattr(skimage.data, name)())
    photo.thumbnail((300, 300))
    photo.save(path)
    return path


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def polygon_mask(annotation: Any) -> np.ndarray:
    rings = [[(p.x, p.y) for p in ring] for ring in annotation.polygon.paths]
    return polygon_to_mask(rings, DISC_SIZE[1], DISC_SIZE[0])


def balance(sdk: Client) -> int:
    return sdk.credits.balance().credits_remaining


@pytest.fixture(scope="module")
def sdk(live_server: LiveServer) -> Iterator[Client]:
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as client:
        yield client


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("auto-annotate")
    return {
        "disc.png": write_disc(folder / "disc.png"),
        "astronaut.jpg": write_photo(folder / "astronaut.jpg", "astronaut"),
        "cat.jpg": write_photo(folder / "cat.jpg", "chelsea"),
    }


def make_dataset(
    sdk: Client, files: dict[str, Path], classes: list[dict[str, str]] | None = None
) -> str:
    name = f"aa-{uuid.uuid4().hex[:8]}"
    project = sdk.projects.create(name, classes=classes or [])
    for path in files.values():
        sdk.images.upload(project.id, path)
    return name


@pytest.fixture(scope="module")
def dataset(sdk: Client, files: dict[str, Path]) -> str:
    return make_dataset(sdk, files, [{"name": "disc", "type": "polygon"}])


def image_id(sdk: Client, dataset_name: str, filename: str) -> str:
    images = sdk.datasets.get(dataset_name, include_images=True).images or []
    return next(image.id for image in images if image.filename == filename)


# ───────────── prompts ─────────────


def test_box_prompt_segments_the_disc_and_charges_a_session_then_a_prompt(
    sdk: Client, dataset: str
) -> None:
    before = balance(sdk)
    box = {"x": 85, "y": 45, "w": 130, "h": 130}
    first = sdk.auto_annotate.box(dataset, "disc.png", box=box, name="disc")
    assert first.status == "success"
    assert first.model == "litemedsam"
    assert [a.type for a in first.annotations] == ["bbox", "polygon"]
    bbox = first.annotations[0].bounding_box
    assert abs(bbox.x - (DISC_CENTRE[0] - DISC_RADIUS)) <= 4 and abs(bbox.w - 2 * DISC_RADIUS) <= 8
    assert iou(polygon_mask(first.annotations[1]), disc_mask()) >= 0.85
    assert first.score is not None and first.score >= 0.5
    after_first = balance(sdk)
    assert before - after_first == 3 and first.credits_charged == 3

    second = sdk.auto_annotate.box(dataset, "disc.png", box=box, name="disc", return_polygon=False)
    assert second.embedding_cached is True and second.credits_charged == 1
    assert [a.type for a in second.annotations] == ["bbox"]
    assert after_first - balance(sdk) == 1


def test_point_prompt_finds_the_object_under_the_click(sdk: Client, dataset: str) -> None:
    result = sdk.auto_annotate.point(
        dataset, "disc.png", x=DISC_CENTRE[0], y=DISC_CENTRE[1], name="disc"
    )
    assert result.status == "success"
    (polygon,) = result.annotations
    assert polygon.type == "polygon"
    assert iou(polygon_mask(polygon), disc_mask()) >= 0.7

    keypoint = sdk.auto_annotate.point(
        dataset,
        "disc.png",
        x=DISC_CENTRE[0] + 10,
        y=DISC_CENTRE[1],
        name="disc",
        output_type="keypoint",
        score_threshold=0.0,
    ).annotations[0]
    assert disc_mask()[int(keypoint.keypoint.y), int(keypoint.keypoint.x)]


def test_saving_a_prompt_result_stores_it(sdk: Client, dataset: str) -> None:
    result = sdk.auto_annotate.box(
        dataset, "disc.png", box={"x": 85, "y": 45, "w": 130, "h": 130}, name="disc"
    )
    target = image_id(sdk, dataset, "disc.png")
    saved = sdk.annotations.save(target, result.annotations[1:])
    assert saved.new_count == 1
    assert sdk.annotations.get(target)[0].type == "polygon"
    sdk.annotations.save(target, [])


def test_text_prompt_finds_the_person_and_reports_misses(sdk: Client, dataset: str) -> None:
    found = sdk.auto_annotate.text(
        dataset, "astronaut.jpg", text_prompt="people", output_type="bbox"
    )
    assert found.status == "success"
    assert found.model and found.model.startswith("ssd-mobilenet-v2-coco")
    assert all(a.name == "people" and a.type == "bbox" for a in found.annotations)
    box = found.annotations[0].bounding_box
    assert box.w * box.h > 0.2 * 300 * 300  # the astronaut fills much of the frame

    named = sdk.auto_annotate.text(
        dataset, "astronaut.jpg", text_prompt="a person", name="disc", output_type="polygon"
    )
    assert named.status == "success" and named.annotations[0].name == "disc"
    assert named.annotations[0].type == "polygon"

    assert (
        sdk.auto_annotate.text(dataset, "disc.png", text_prompt="giraffe").status == "no_detection"
    )
    strict = sdk.auto_annotate.text(
        dataset, "astronaut.jpg", text_prompt="person", confidence_threshold=1.0
    )
    assert strict.status == "below_threshold" and strict.annotations == []


def test_prompt_errors(sdk: Client, dataset: str) -> None:
    with pytest.raises(ValidationError) as outside:
        sdk.auto_annotate.point(dataset, "disc.png", x=10_000, y=5)
    assert outside.value.errors[0]["loc"] == ["x"]
    with pytest.raises(ValidationError):
        sdk.auto_annotate.box(
            dataset, "disc.png", box={"x": 1000, "y": 1000, "w": 5, "h": 5}, name="disc"
        )
    with pytest.raises(NotFoundError):
        sdk.auto_annotate.box(
            dataset, "nope.png", box={"x": 1, "y": 1, "w": 5, "h": 5}, name="disc"
        )
    with pytest.raises(NotFoundError):
        sdk.auto_annotate.text("no-such-dataset", "disc.png", text_prompt="cat")


def test_without_credits_prompts_and_batches_are_402_and_run_nothing(
    sdk: Client, dataset: str, live_server: LiveServer
) -> None:
    from sqlalchemy import text

    db = database(live_server)
    try:
        with db.session() as session:
            saved = session.execute(text("SELECT id, credits_remaining FROM organizations")).one()
            session.execute(text("UPDATE organizations SET credits_remaining = 2"))
        with pytest.raises(PaymentRequiredError) as short:
            sdk.auto_annotate.text(dataset, "cat.jpg", text_prompt="cat")
        assert short.value.required == 3
        with pytest.raises(PaymentRequiredError) as batch_short:
            sdk.auto_annotate.batch(dataset, None, [{"name": "disc"}], overwrite=True, wait=False)
        assert batch_short.value.required == 3
        assert sdk.auto_annotate.list_batches(dataset_name=dataset) == []
    finally:
        with db.session() as session:
            session.execute(
                text("UPDATE organizations SET credits_remaining = :c WHERE id = :i"),
                {"c": saved.credits_remaining, "i": saved.id},
            )
        db.dispose()


def test_models_lists_the_bundled_backends(sdk: Client) -> None:
    report = sdk.auto_annotate.models()
    by_name = {model.name: model for model in report.models}
    assert by_name["litemedsam"].available and by_name["ssd-mobilenet-v2-coco"].available
    assert not by_name["sam3"].available and "pictograph models pull sam3" in (
        by_name["sam3"].reason or ""
    )
    assert report.active == {
        "segment": "litemedsam",
        "text": "ssd-mobilenet-v2-coco",
        "detect": "ssd-mobilenet-v2-coco",
        "embed": "efficientnet-lite0",
    }


# ───────────── batch jobs ─────────────


def test_batch_labels_drafts_for_review(sdk: Client, files: dict[str, Path]) -> None:
    name = make_dataset(sdk, files)
    before = balance(sdk)
    job = sdk.auto_annotate.batch(
        name,
        ["astronaut.jpg", "cat.jpg", "disc.png", "missing.png"],
        [BatchClass(name="person", output_type="bbox"), {"name": "cat", "output_type": "polygon"}],
        confidence_threshold=0.4,
        wait=False,
    )
    assert job.status in ("pending", "running") and job.estimated_credits == 3
    assert job.added_classes == ["cat", "person"]
    done = sdk.auto_annotate.wait_for_batch(job.job_id, poll_interval=0.3, timeout=120)
    assert done.status == "completed" and done.progress == 100
    assert done.total_images == 4 and done.processed_images == 3 and done.failed_images == 1
    assert done.failures[0].image_filename == "missing.png"
    assert done.model == "ssd-mobilenet-v2-coco+litemedsam"
    assert done.total_annotations_added >= 2 and done.successful_items >= 2
    assert before - balance(sdk) == 3 == done.credits_charged

    astronaut = image_id(sdk, name, "astronaut.jpg")
    annotations = sdk.annotations.get(astronaut)
    assert [a.name for a in annotations] == ["person"] and annotations[0].type == "bbox"
    assert annotations[0].created_by == f"auto_label:{job.job_id}"
    cat = sdk.annotations.get(image_id(sdk, name, "cat.jpg"))
    assert cat and all(a.name == "cat" and a.type == "polygon" for a in cat)
    assert sdk.images.get(astronaut).status == "review"

    accepted = sdk.auto_annotate.accept_drafts(astronaut)
    assert accepted.status == "complete" and accepted.accepted == 1
    discarded = sdk.auto_annotate.discard_drafts(image_id(sdk, name, "cat.jpg"))
    assert (
        discarded.status == "new" and discarded.annotation_count == 0 and discarded.discarded >= 1
    )

    listed = sdk.auto_annotate.list_batches(dataset_name=name)
    assert [j.job_id for j in listed] == [job.job_id]


def test_batch_skips_annotated_images_and_dry_run_writes_nothing(
    sdk: Client, files: dict[str, Path]
) -> None:
    name = make_dataset(
        sdk, files, [{"name": "person", "type": "bbox"}, {"name": "cat", "type": "bbox"}]
    )
    astronaut = image_id(sdk, name, "astronaut.jpg")
    sdk.annotations.save(
        astronaut,
        [{"name": "person", "type": "bbox", "bounding_box": {"x": 1, "y": 1, "w": 5, "h": 5}}],
    )
    job = sdk.auto_annotate.batch(
        name, None, None, model_type="yolo", dry_run=True, poll_interval=0.3, timeout=120
    )
    assert job.skipped_images == 1 and job.total_images == 2
    assert [item.class_name for item in job.ontology] == ["person", "cat"]
    assert job.dry_run and job.predicted_annotations >= 1 and job.total_annotations_added == 0
    assert sdk.annotations.get(image_id(sdk, name, "cat.jpg")) == []
    assert len(sdk.annotations.get(astronaut)) == 1


def test_batch_request_errors(sdk: Client, files: dict[str, Path]) -> None:
    bare = make_dataset(sdk, {"disc.png": files["disc.png"]})
    with pytest.raises(ValidationError) as no_classes:
        sdk.auto_annotate.batch(bare, None, None, wait=False)
    assert no_classes.value.error_code == "DATASET_HAS_NO_CLASSES"
    with pytest.raises(ValidationError) as unmatched:
        sdk.auto_annotate.batch(
            bare, None, None, model_type="yolo", ontology={"zebra crossing": "crossing"}, wait=False
        )
    assert unmatched.value.error_code == "NO_MATCHING_CLASSES"
    with pytest.raises(ValidationError) as bad_type:
        sdk.auto_annotate.batch(bare, None, [{"name": "disc", "output_type": "mesh"}], wait=False)
    assert bad_type.value.errors[0]["loc"][:2] == ["classes", 0]
    with pytest.raises(NotFoundError):
        sdk.auto_annotate.batch(bare, ["nothing.png"], [{"name": "disc"}], wait=False)
    with pytest.raises(NotFoundError):
        sdk.auto_annotate.batch(
            bare, None, [{"name": "disc"}], model_id=str(uuid.uuid4()), wait=False
        )
    with pytest.raises(NotFoundError):
        sdk.auto_annotate.get_batch(str(uuid.uuid4()))


def test_cancel_and_poll_timeout(sdk: Client, files: dict[str, Path]) -> None:
    name = make_dataset(sdk, files)
    job = sdk.auto_annotate.batch(
        name, None, [{"name": "person", "output_type": "polygon"}], wait=False
    )
    with pytest.raises(PollTimeoutError) as timeout:
        sdk.auto_annotate.wait_for_batch(job.job_id, poll_interval=0.05, timeout=0.05)
    assert timeout.value.job_id == job.job_id
    sdk.auto_annotate.cancel_batch(job.job_id)
    with pytest.raises(ApiError) as ended:
        sdk.auto_annotate.wait_for_batch(job.job_id, poll_interval=0.3, timeout=120)
    assert "cancelled" in str(ended.value)
    assert sdk.auto_annotate.get_batch(job.job_id).status == "cancelled"


# ───────────── the workflow ─────────────


def test_workflow_batch_and_text_modes(sdk: Client, files: dict[str, Path]) -> None:
    photos = {k: v for k, v in files.items() if k != "disc.png"}
    name = make_dataset(sdk, photos)
    seen: list[tuple[int, int]] = []
    report = auto_annotate_dataset(
        sdk,
        name,
        [("person", "bbox"), ("cat", "bbox")],
        poll_interval=0.3,
        timeout=120,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.job_id and report.images_attempted == 2 and report.images_processed == 2
    assert report.annotations_added >= 2 and report.success and seen[-1] == (2, 2)

    again = auto_annotate_dataset(sdk, name, [("person", "bbox")], poll_interval=0.3)
    assert again.images_skipped == 2 and again.images_attempted == 0

    text_name = make_dataset(sdk, photos)
    text = auto_annotate_dataset(
        sdk,
        text_name,
        [{"name": "person", "output_type": "bbox"}, ("cat", "polygon")],
        mode="text",
        max_images=2,
    )
    assert text.job_id is None and text.images_processed == 2 and text.annotations_added >= 2
    astronaut = sdk.annotations.get(image_id(sdk, text_name, "astronaut.jpg"))
    assert {a.name for a in astronaut} >= {"person"}
    with pytest.raises(ValidationError):
        auto_annotate_dataset(sdk, text_name, [("person", "mesh")])
    with pytest.raises(NotFoundError):
        auto_annotate_dataset(sdk, "no-such-dataset", [("person", "bbox")])
