"""Drive our server with the PUBLISHED pictograph 1.0.x client, unmodified.

Runs inside its own virtual environment (see test_published_client.py), so ``pictograph``
here is the hosted service's client from PyPI, not this repository. Every step prints one
JSON line {"step", "ok", "detail"}; the test asserts that all of them are ok.
Usage: python published_client_script.py BASE_URL API_KEY WORK_DIR
"""

from __future__ import annotations

import json
import sys
import traceback
import uuid
from pathlib import Path

from PIL import Image as PILImage

import pictograph
from pictograph import Client
from pictograph.exceptions import AuthError, ConflictError, NotFoundError, ValidationError
from pictograph.models.annotation import BBoxAnnotation, PolygonAnnotation, PolygonGeometry
from pictograph.models.common import BoundingBox, Point
from pictograph.models.project import ProjectClass
from pictograph.workflows.upload import upload_dataset_from_folder

BASE_URL, API_KEY, WORK = sys.argv[1], sys.argv[2], Path(sys.argv[3])
results: list[dict] = []


def step(name):
    def wrap(fn):
        try:
            detail = fn()
            results.append({"step": name, "ok": True, "detail": detail})
        except Exception as error:  # noqa: BLE001 — every failure is reported, none stops the run
            results.append({"step": name, "ok": False, "detail": f"{type(error).__name__}: {error}",
                            "trace": traceback.format_exc()[-2000:]})
        return fn
    return wrap


client = Client(api_key=API_KEY, base_url=BASE_URL, max_retries=0)
# Model prompts run on the CPU here, the first one loading the models: the docs' advice for slow
# endpoints is a longer Client timeout.
models_client = Client(api_key=API_KEY, base_url=BASE_URL, max_retries=0, timeout=300)
name = f"conf-{uuid.uuid4().hex[:8]}"
state: dict = {}

folder = WORK / "photos"
(folder / "cars").mkdir(parents=True, exist_ok=True)
for index, path in enumerate([folder / "a.png", folder / "cars" / "b.png", folder / "cars" / "c.jpg"]):
    PILImage.new("RGB", (40 + index, 30), (index * 60, 100, 150)).save(path)


@step("version")
def _():
    return pictograph.__version__


@step("organizations.me")
def _():
    org = client.organizations.me()
    state["org_id"] = org.id
    return org.subscription_tier


@step("organizations.list_members")
def _():
    members = client.organizations.list_members()
    assert any(m.role == "owner" for m in members)
    return len(members)


@step("organizations.invite+list+revoke")
def _():
    invite = client.organizations.invite(f"{uuid.uuid4().hex[:6]}@example.com", role="member")
    assert any(i.id == invite.id for i in client.organizations.list_invites(status="pending"))
    client.organizations.revoke_invite(invite.id)
    assert any(i.id == invite.id for i in client.organizations.list_invites(status="revoked"))
    return invite.status


@step("api_keys.create+get+update+list+delete")
def _():
    created = client.api_keys.create(state["org_id"], "conformance", role="viewer")
    assert created.api_key.startswith("pk_live_")
    assert client.api_keys.get(created.key_id).role == "viewer"
    assert client.api_keys.update(created.key_id, name="renamed").name == "renamed"
    assert any(k.id == created.key_id for k in client.api_keys.list())
    viewer = Client(api_key=created.api_key, base_url=BASE_URL, max_retries=0)
    assert viewer.organizations.me().id == state["org_id"]
    client.api_keys.delete(created.key_id)
    return created.key_prefix


@step("auth_error")
def _():
    try:
        Client(api_key="pk_live_not_a_real_key_000000000", base_url=BASE_URL, max_retries=0).datasets.list()
    except AuthError as error:
        return error.status_code
    raise AssertionError("no AuthError")


@step("credits")
def _():
    balance = client.credits.balance()
    history = client.credits.history(limit=5)
    every = client.credits.iter(page_size=2).all()
    estimate = client.credits.estimate("training_a10g", quantity=3)
    assert estimate.total_credits == 30
    return [balance.credits_remaining, len(history), len(every)]


@step("projects.create+get+list+update")
def _():
    project = client.projects.create(
        name, description="conformance", annotation_types=["bbox", "polygon"],
        classes=[ProjectClass(name="car", type="bbox", color="#ff0000"),
                 ProjectClass(name="road", type="polygon", color="#00ff00")],
    )
    state["project_id"] = project.id
    assert client.projects.get(name).id == project.id
    assert any(p.id == project.id for p in client.projects.iter(page_size=1))
    updated = client.projects.update(name, description="updated")
    return updated.description


@step("projects.create duplicate → ConflictError")
def _():
    try:
        client.projects.create(name)
    except ConflictError as error:
        return error.status_code
    raise AssertionError("no ConflictError")


@step("workflows.upload_dataset_from_folder")
def _():
    first = upload_dataset_from_folder(client, name, folder)
    second = upload_dataset_from_folder(client, name, folder)
    assert first.images_uploaded == 3, first
    assert second.images_skipped == 3, second
    return [first.images_uploaded, second.images_skipped]


@step("images.upload+get+download")
def _():
    single = WORK / "single.png"
    PILImage.new("RGB", (64, 48), (1, 2, 3)).save(single)
    image = client.images.upload(state["project_id"], single, folder_path="/single")
    state["image_id"] = image.id
    got = client.images.get(image.id)
    assert (got.width, got.height) == (64, 48)
    out = client.images.download(image.id, WORK / "downloaded.png")
    assert out.read_bytes() == single.read_bytes()
    return got.virtual_folder_path


@step("images.upload duplicate → ConflictError")
def _():
    try:
        client.images.upload(state["project_id"], WORK / "single.png", folder_path="/single")
    except ConflictError as error:
        return error.status_code
    raise AssertionError("no ConflictError")


@step("annotations.save+get")
def _():
    result = client.annotations.save(state["image_id"], [
        BBoxAnnotation(name="car", bounding_box=BoundingBox(x=1, y=2, w=10, h=8)),
        PolygonAnnotation(name="road", polygon=PolygonGeometry(paths=[[Point(x=0, y=0), Point(x=9, y=0), Point(x=9, y=9)]])),
    ])
    assert result.new_count == 2 and result.previous_count == 0
    got = client.annotations.get(state["image_id"])
    assert {a.type for a in got} == {"bbox", "polygon"}
    polygon = next(a for a in got if a.type == "polygon")
    assert polygon.bounding_box is not None
    return result.status


@step("annotations unknown class → ValidationError")
def _():
    try:
        client.annotations.save(state["image_id"], [
            BBoxAnnotation(name="zebra", bounding_box=BoundingBox(x=1, y=2, w=10, h=8))])
    except ValidationError as error:
        return error.status_code
    raise AssertionError("no ValidationError")


@step("datasets.list+iter+get+get_by_id")
def _():
    assert any(d.name == name for d in client.datasets.list(limit=1000))
    assert any(d.name == name for d in client.datasets.iter(page_size=1))
    dataset = client.datasets.get(name, include_images=True, images_limit=2)
    assert dataset.image_count == 4 and len(dataset.images) == 2
    assert client.datasets.get_by_id(dataset.id).name == name
    return dataset.image_count


@step("datasets.get missing → NotFoundError")
def _():
    try:
        client.datasets.get(f"{name}-missing")
    except NotFoundError as error:
        return error.status_code
    raise AssertionError("no NotFoundError")


@step("datasets.download")
def _():
    report = client.datasets.download(name, WORK / "dump")
    assert report.success, report.failures
    assert report.images_downloaded == 4 and report.annotations_downloaded == 1, report
    return [report.images_downloaded, report.annotations_downloaded]


@step("auto_annotate.point+box+text")
def _():
    statuses = {"success", "no_detection", "below_threshold"}
    point = models_client.auto_annotate.point(name, "a.png", x=20, y=15, name="road", score_threshold=0.0)
    box = models_client.auto_annotate.box(name, "a.png", box={"x": 2, "y": 2, "w": 30, "h": 20}, name="car")
    text = models_client.auto_annotate.text(name, "a.png", text_prompt="car", output_type="bbox")
    assert {point.status, box.status, text.status} <= statuses
    assert point.status == "success" and point.annotations[0].type == "polygon"
    assert box.inference_time is not None and all(a.name == "car" for a in box.annotations)
    return [point.status, box.status, text.status]


@step("auto_annotate.batch+get_batch+cancel_batch")
def _():
    from pictograph.models.auto_annotate import BatchClass

    job = client.auto_annotate.batch(
        name, ["a.png"], [BatchClass(name="car", output_type="bbox")], poll_interval=0.5, timeout=120
    )
    assert job.status == "completed" and job.processed_images == 1 and job.progress == 100
    assert client.auto_annotate.get_batch(job.job_id).job_id == job.job_id
    assert client.auto_annotate.cancel_batch(job.job_id).status == "completed"
    return [job.status, job.total_images]


@step("workflows.auto_annotate_dataset")
def _():
    from pictograph.workflows.annotate import auto_annotate_dataset

    report = auto_annotate_dataset(client, name, [("car", "bbox")], poll_interval=0.5, timeout=120)
    assert report.job_id and not report.failures, report
    return [report.images_attempted, report.images_skipped]


@step("batch.move+copy+update+delete")
def _():
    ids = [i.id for i in client.datasets.get(name, include_images=True).images]
    moved = client.batch.move(name, ids[:2], target_folder_path="/sorted")
    copied = client.batch.copy(name, ids[:1], target_folder_path="/copies", copy_annotations=True)
    updated = client.batch.update(name, ids[:2], status="review")
    deleted = client.batch.delete(name, ids[:1])
    assert moved.success and copied.success and updated.success and deleted.success
    return [moved.processed, copied.processed, updated.processed, deleted.processed]


@step("annotations.delete")
def _():
    return client.annotations.delete(state["image_id"]).deleted_count


@step("images.delete permanent")
def _():
    client.images.delete(state["image_id"], permanent=True)
    try:
        client.images.get(state["image_id"])
    except NotFoundError:
        return "gone"
    raise AssertionError("image still there")


train_name = f"conf-train-{uuid.uuid4().hex[:6]}"


@step("training.create+get+list / models.get+list+download+delete")
def _():
    project = client.projects.create(
        train_name, annotation_types=["bbox"], classes=[ProjectClass(name="box", type="bbox")]
    )
    (WORK / "train").mkdir(exist_ok=True)
    for index in range(6):
        path = WORK / "train" / f"t{index}.png"
        picture = PILImage.new("RGB", (64, 64), (120, 130, 140))
        picture.paste((200, 30, 30), (8 + index * 4, 10, 30 + index * 4, 34))
        picture.save(path)
        image = client.images.upload(project.id, path)
        client.annotations.save(image.id, [BBoxAnnotation(
            name="box", bounding_box=BoundingBox(x=8 + index * 4, y=10, w=22, h=24))])
    client.exports.create(train_name, "for-training", include_images=True, status_filter="complete")
    run = client.training.create(
        train_name, "for-training", pipeline_type="classification", name="conf-run",
        config={"epochs": 1, "batch_size": 2, "image_size": 32}, poll_interval=1.0, timeout=300,
    )
    assert run.status == "completed" and run.model_id
    assert client.training.get(run.id).id in [r.id for r in client.training.list(limit=100)]
    model = client.models.get(run.model_id)
    assert model.status == "ready" and model.class_mapping == {"0": "box"}
    assert model.id in [m.id for m in client.models.iter(model_type="classification")]
    path = client.models.download(model.id, WORK / "model.onnx")
    client.models.delete(model.id)
    return {"run": run.status, "metrics": sorted(model.metrics or {}), "bytes": path.stat().st_size}


@step("workflows.train_pipeline + training.cancel")
def _():
    from pictograph.workflows.train import train_pipeline

    run, model = train_pipeline(
        client, train_name, pipeline="classification", wait=False,
        config={"epochs": 500, "batch_size": 2, "image_size": 32},
    )
    assert model is None and run.status == "queued"
    cancelled = client.training.cancel(run.id)
    assert cancelled.status == "cancelled"
    return run.status


@step("video.upload+probe+extract_frames")
def _():
    info = client.video.upload(WORK / "clip.mp4")
    meta = client.video.probe(info.gcs_path)
    assert (meta.width, meta.height, round(meta.native_fps)) == (64, 48, 30), meta
    job = client.video.extract_frames(
        name, info.gcs_path, folder_name="frames", sample_fps=2.0, poll_interval=0.5, timeout=120
    )
    assert job.status == "complete" and job.frames_extracted == 4, job
    listing = client.datasets.get(name, include_images=True)
    frames = sorted(
        (i.filename, i.id) for i in listing.images if i.virtual_folder_path == "/frames"
    )
    state["frame_ids"] = [image_id for _, image_id in frames]
    frames = [filename for filename, _ in frames]
    assert frames == [f"clip_{index:06d}.jpg" for index in (0, 15, 30, 45)], frames
    return job.frames_extracted


@step("search.by_similarity+by_tag")
def _():
    import time

    deadline = time.monotonic() + 120
    while True:  # images are embedded in the background after upload
        try:
            similar = client.search.by_similarity(state["frame_ids"][0], threshold=0.0, limit=5)
            break
        except ConflictError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert {r.id for r in similar} == set(state["frame_ids"][1:])  # the folder's other frames
    assert all(0.0 <= r.similarity <= 1.0 for r in similar)
    tagged = client.search.by_tag(attributes=["low-contrast", "dark"], dataset_name=name)
    try:
        client.search.by_tag(objects=["no-such-tag"])
    except ValidationError:
        pass
    else:
        raise AssertionError("an unknown tag was accepted")
    return [len(similar), len(tagged)]


@step("projects.delete")
def _():
    return client.projects.delete(name)


for line in results:
    print(json.dumps(line, default=str))
