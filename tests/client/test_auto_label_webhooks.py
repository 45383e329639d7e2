"""Batch auto-label jobs announce their end to the organization's webhooks, signed.

``auto_label.completed`` when a job finishes; ``auto_label.failed`` when it cannot go on (here:
the balance runs out before the first image is paid for). Each test works in an organization of
its own, so no other test's events reach its receiver.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import text

from pictograph import Client
from pictograph.exceptions import ApiError
from tests.live_server import LiveServer
from tests.server.helpers import add_key, database
from tests.webhook_receiver import Receiver


@pytest.fixture()
def org(live_server: LiveServer) -> Iterator[tuple[Client, str]]:
    key = add_key(
        live_server,
        "owner",
        new_org=True,
        org_fields={"credits_remaining": 100, "credits_monthly_allowance": 100},
    )
    with Client(api_key=key, base_url=live_server.base_url) as sdk:
        yield sdk, sdk.organizations.me().id


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def dataset_with_photos(sdk: Client, folder: Path, count: int) -> str:
    import skimage.data

    project = sdk.projects.create("hooks", classes=[{"name": "person"}])
    for index in range(count):
        photo = PILImage.fromarray(skimage.data.astronaut())
        photo.thumbnail((160 + index, 160 + index))
        path = folder / f"p{index}.jpg"
        photo.save(path)
        sdk.images.upload(project.id, path)
    return project.name


def test_completed_job_posts_a_signed_event(
    org: tuple[Client, str], receiver: Receiver, tmp_path: Path
) -> None:
    sdk, org_id = org
    hook = sdk.webhooks.create(receiver.url, events=["auto_label.completed", "auto_label.failed"])
    name = dataset_with_photos(sdk, tmp_path, 1)
    job = sdk.auto_annotate.batch(
        name, None, [{"name": "person", "output_type": "bbox"}], poll_interval=0.3, timeout=120
    )

    (delivery,) = receiver.wait_for(1)
    body = delivery.json()
    assert delivery.headers["x-pictograph-event"] == "auto_label.completed"
    assert delivery.verifies(hook.secret)
    assert body["organization_id"] == org_id
    assert body["data"]["job_id"] == job.job_id and body["data"]["status"] == "completed"
    assert body["data"]["processed_images"] == 1
    assert body["data"]["total_annotations_added"] == job.total_annotations_added >= 1
    assert body["data"]["model"] == "ssd-mobilenet-v2-coco"  # boxes only: no segmenter ran


def test_a_job_that_runs_out_of_credits_fails_and_says_so(
    org: tuple[Client, str], receiver: Receiver, tmp_path: Path, live_server: LiveServer
) -> None:
    sdk, org_id = org
    sdk.webhooks.create(receiver.url, events=["auto_label.failed"])
    name = dataset_with_photos(sdk, tmp_path, 3)
    job = sdk.auto_annotate.batch(
        name, None, [{"name": "person", "output_type": "polygon"}], wait=False
    )
    db = database(live_server)
    try:
        with db.session() as session:  # spent elsewhere while the first image is being labelled
            session.execute(
                text("UPDATE organizations SET credits_remaining = 0 WHERE id = :id"),
                {"id": org_id},
            )
    finally:
        db.dispose()
    with pytest.raises(ApiError):
        sdk.auto_annotate.wait_for_batch(job.job_id, poll_interval=0.3, timeout=120)
    failed = sdk.auto_annotate.get_batch(job.job_id)
    assert failed.status == "failed" and "Insufficient credits" in (failed.error_message or "")
    assert failed.processed_images == 0 and failed.credits_charged == 0

    (delivery,) = receiver.wait_for(1)
    assert delivery.headers["x-pictograph-event"] == "auto_label.failed"
    data = delivery.json()["data"]
    assert data["job_id"] == job.job_id and "Insufficient credits" in data["error_message"]
