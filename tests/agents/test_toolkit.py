"""``Toolkit.dispatch`` against the live server (both databases): every one of the 28 tools run for
real on tiny data, the role gate with a viewer key, the credit gate with a short balance, the
server's own 403 / 402 surfaced, and the response cap on a real listing."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from pictograph import Client
from pictograph.agents import REGISTRY, Toolkit, create_toolkit
from pictograph.agents.toolkit import estimate_tokens
from pictograph.exceptions import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PaymentRequiredError,
    ValidationError,
)
from tests.fake_remotes import V7_KEY, fakes_and_server
from tests.indexing import save, wait_indexed
from tests.live_server import LiveServer
from tests.server.helpers import add_key
from tests.training.drawn_dataset import upload_drawn

FAST = {"epochs": 1, "batch_size": 4, "image_size": 64}
DISC_CENTRE, DISC_RADIUS = (32, 32), 18


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write_disc(path: Path) -> Path:
    """A red disc on a pale 64 px background: the object the prompt tools should find."""
    ys, xs = np.mgrid[:64, :64]
    pixels = np.full((64, 64, 3), 215, np.uint8)
    inside = (xs + 0.5 - DISC_CENTRE[0]) ** 2 + (ys + 0.5 - DISC_CENTRE[1]) ** 2 <= DISC_RADIUS**2
    pixels[inside] = (200, 40, 40)
    return save(pixels, path)


def write_dark(path: Path) -> Path:
    """A dim 64 px scene of blocks, which auto-tagging marks ``dark``."""
    rng = np.random.default_rng(1)
    pixels = np.full((64, 64, 3), 128, np.uint8)
    for _ in range(4):
        y, x = rng.integers(0, 48, size=2)
        pixels[y : y + 12, x : x + 12] = rng.integers(0, 256, 3)
    return save((pixels * 0.15).astype(np.uint8), path)


def write_cat(path: Path, size: int = 64) -> Path:
    import skimage.data

    photo = PILImage.fromarray(skimage.data.chelsea())
    photo.thumbnail((size, size))
    return save(np.asarray(photo), path)


@pytest.fixture(scope="module")
def sdk(live_server: LiveServer) -> Iterator[Client]:
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as client:
        yield client


@pytest.fixture(scope="module")
def toolkit(sdk: Client) -> Toolkit:
    return create_toolkit(sdk)


@pytest.fixture(scope="module")
def dataset(toolkit: Toolkit, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A dataset made with create_dataset and filled with upload_image: a disc and a dark scene."""
    folder = tmp_path_factory.mktemp("agent-images")
    name = unique("agent")
    created = toolkit.dispatch(
        "create_dataset",
        {
            "name": name,
            "description": "made by an agent",
            "classes": [{"name": "disc", "type": "polygon"}, {"name": "square", "type": "bbox"}],
        },
    )
    assert created["name"] == name and created["annotation_types"] == ["polygon", "bbox"]
    assert [c["name"] for c in created["classes"]] == ["disc", "square"]
    ids = {}
    for filename, writer in (("disc.png", write_disc), ("dark.png", write_dark)):
        image = toolkit.dispatch(
            "upload_image",
            {"dataset_name": name, "file_path": str(writer(folder / filename))},
        )
        assert image["filename"] == filename and image["width"] == 64
        ids[filename] = image["id"]
    return {"name": name, "ids": ids}


# ───────────── datasets, images, annotations ─────────────


def test_list_and_get_datasets(toolkit: Toolkit, dataset: dict[str, Any]) -> None:
    listed = toolkit.dispatch("list_datasets", {"limit": 1000})
    assert listed["count"] == len(listed["datasets"])
    assert dataset["name"] in [d["name"] for d in listed["datasets"]]
    got = toolkit.dispatch("get_dataset", {"name": dataset["name"], "include_images": True})
    assert got["image_count"] == 2 and got["description"] == "made by an agent"
    assert {i["filename"]: i["id"] for i in got["images"]} == dataset["ids"]
    assert "images" not in toolkit.dispatch("get_dataset", {"name": dataset["name"]})
    with pytest.raises(NotFoundError):
        toolkit.dispatch("get_dataset", {"name": "no-such-dataset"})


def test_save_and_get_annotations(toolkit: Toolkit, dataset: dict[str, Any]) -> None:
    image_id = dataset["ids"]["disc.png"]
    assert toolkit.dispatch("get_annotations", {"image_uuid": image_id}) == {
        "annotations": [],
        "count": 0,
    }
    square = {"name": "square", "type": "bbox", "bounding_box": {"x": 4, "y": 4, "w": 10, "h": 8}}
    saved = toolkit.dispatch("save_annotations", {"image_uuid": image_id, "annotations": [square]})
    assert (saved["previous_count"], saved["new_count"]) == (0, 1)
    got = toolkit.dispatch("get_annotations", {"image_uuid": image_id})
    assert got["count"] == 1 and got["annotations"][0]["bounding_box"]["w"] == 10
    with pytest.raises(ValidationError, match="'name', not 'class'"):
        toolkit.dispatch(
            "save_annotations",
            {"image_uuid": image_id, "annotations": [{"class": "square", "type": "bbox"}]},
        )
    assert toolkit.dispatch("save_annotations", {"image_uuid": image_id, "annotations": []})[
        "new_count"
    ] == 0


def test_prompt_tools_segment_the_disc(toolkit: Toolkit, dataset: dict[str, Any]) -> None:
    base = {"dataset_name": dataset["name"], "image_filename": "disc.png"}
    point = toolkit.dispatch("auto_annotate_point", {**base, "x": 32, "y": 32, "name": "disc"})
    assert point["status"] == "success" and point["annotations"][0]["type"] == "polygon"
    box = toolkit.dispatch(
        "auto_annotate_box",
        {**base, "box": {"x": 12, "y": 12, "w": 40, "h": 40}, "name": "disc"},
    )
    assert box["status"] == "success"
    assert {a["type"] for a in box["annotations"]} >= {"bbox", "polygon"}
    text = toolkit.dispatch("auto_annotate_text", {**base, "text_prompt": "disc", "name": "disc"})
    assert text["status"] in ("success", "no_detection", "below_threshold")
    assert toolkit.dispatch("get_annotations", {"image_uuid": dataset["ids"]["disc.png"]})[
        "count"
    ] == 0  # prompts save nothing


def test_search_tools(toolkit: Toolkit, sdk: Client, dataset: dict[str, Any]) -> None:
    wait_indexed(sdk, dataset["name"])
    tagged = toolkit.dispatch(
        "search_by_tag", {"dataset_name": dataset["name"], "attributes": ["dark"]}
    )
    assert [hit["filename"] for hit in tagged["images"]] == ["dark.png"]
    similar = toolkit.dispatch(
        "search_by_similarity", {"image_id": dataset["ids"]["disc.png"], "threshold": 0.0}
    )
    assert [hit["filename"] for hit in similar["images"]] == ["dark.png"]
    assert similar["count"] == 1 and 0.0 <= similar["images"][0]["similarity"] <= 1.0
    with pytest.raises(ValidationError):
        toolkit.dispatch("search_by_tag", {"dataset_name": dataset["name"]})  # no tag at all


def test_export_tools(toolkit: Toolkit, dataset: dict[str, Any], tmp_path: Path) -> None:
    name = unique("export")
    export = toolkit.dispatch(
        "create_export",
        {"dataset_name": dataset["name"], "name": name, "format": "coco", "status_filter": "all"},
    )
    assert export["status"] == "completed" and export["image_count"] == 2
    listed = toolkit.dispatch("list_exports", {"dataset_name": dataset["name"]})
    assert name in [e["name"] for e in listed["exports"]]
    saved = toolkit.dispatch(
        "download_export",
        {
            "dataset_name": dataset["name"],
            "export_name": name,
            "output_path": str(tmp_path / "export.zip"),
        },
    )
    assert saved == {
        "output_path": str(tmp_path / "export.zip"),
        "size_bytes": (tmp_path / "export.zip").stat().st_size,
    }
    assert saved["size_bytes"] == export["file_size"]
    with pytest.raises(ConflictError):
        toolkit.dispatch("create_export", {"dataset_name": dataset["name"], "name": name})


def test_delete_image_and_dataset(toolkit: Toolkit, tmp_path: Path) -> None:
    name = unique("doomed")
    toolkit.dispatch("create_dataset", {"name": name})
    image = toolkit.dispatch(
        "upload_image",
        {
            "dataset_name": name,
            "file_path": str(write_dark(tmp_path / "x.png")),
            "folder_path": "/a",
        },
    )
    assert image["virtual_folder_path"] == "/a"
    assert toolkit.dispatch("delete_image", {"image_uuid": image["id"]}) == {
        "deleted": True,
        "image_uuid": image["id"],
    }
    assert toolkit.dispatch("get_dataset", {"name": name})["image_count"] == 0
    deleted = toolkit.dispatch("delete_dataset", {"name": name})
    assert deleted["deleted"] is True and deleted["name"] == name
    with pytest.raises(NotFoundError):
        toolkit.dispatch("delete_dataset", {"name": name})


# ───────────── workflows, training, models, credits ─────────────


def test_upload_folder_then_auto_annotate(
    toolkit: Toolkit, sdk: Client, tmp_path: Path
) -> None:
    name = unique("agent-flow")
    write_cat(tmp_path / "cats" / "cat.png")
    write_disc(tmp_path / "shapes" / "disc.png")
    write_dark(tmp_path / "root.png")
    arguments = {"dataset_name": name, "folder": str(tmp_path)}
    upload = toolkit.dispatch("upload_dataset_from_folder", arguments)
    assert upload["success"] is True and upload["images_uploaded"] == 3 and upload["failures"] == []
    again = toolkit.dispatch("upload_dataset_from_folder", arguments)
    assert again["images_skipped"] == 3 and again["success"] is False  # nothing new uploaded
    folders = {
        i.filename: i.virtual_folder_path
        for i in sdk.datasets.get(name, include_images=True).images or []
    }
    assert folders == {"cat.png": "/cats", "disc.png": "/shapes", "root.png": "/"}

    before = sdk.credits.balance().credits_remaining
    report = toolkit.dispatch(
        "auto_annotate_dataset",
        {"dataset_name": name, "classes": [{"name": "cat", "output_type": "bbox"}]},
    )
    assert report["job_id"] and report["images_attempted"] == 3
    assert report["images_processed"] == 3 and report["failures"] == []
    assert report["success"] is True
    assert sdk.credits.balance().credits_remaining < before
    assert "cat" in [c.name for c in sdk.datasets.get(name).classes]


def test_training_and_model_tools(
    toolkit: Toolkit, sdk: Client, tmp_path: Path
) -> None:
    name = unique("agent-train")
    upload_drawn(sdk, name, tmp_path / "drawn", images=6)
    trained = toolkit.dispatch(
        "train_pipeline", {"dataset_name": name, "pipeline": "classification", "config": FAST}
    )
    run, model = trained["training_run"], trained["model"]
    assert run["status"] == "completed" and model["status"] == "ready"
    assert model["id"] == run["model_id"]
    status = toolkit.dispatch("get_training_status", {"run_id": run["id"]})
    assert status["status"] == "completed" and status["progress"] == 100
    models = toolkit.dispatch("list_models", {"dataset_name": name})
    assert [m["id"] for m in models["models"]] == [model["id"]]
    saved = toolkit.dispatch(
        "download_model", {"model_id": model["id"], "output_path": str(tmp_path / "m.onnx")}
    )
    assert saved["size_bytes"] == model["file_size"] > 0

    queued = toolkit.dispatch(
        "train_pipeline",
        {
            "dataset_name": name,
            "pipeline": "classification",
            "config": {**FAST, "epochs": 1000},
            "wait": False,
        },
    )
    assert queued["model"] is None and queued["training_run"]["status"] in ("queued", "running")
    cancelled = toolkit.dispatch("cancel_training", {"run_id": queued["training_run"]["id"]})
    assert cancelled["status"] == "cancelled"
    with pytest.raises(ConflictError):
        toolkit.dispatch("cancel_training", {"run_id": queued["training_run"]["id"]})


def test_full_pipeline_trains_a_model_from_a_folder(
    toolkit: Toolkit, sdk: Client, tmp_path: Path
) -> None:
    """Cat photos: uploaded, boxed by the batch auto-annotation, its drafts accepted, and a
    classifier trained on them."""
    folder = tmp_path / "scenes"
    for index in range(5):
        write_cat(folder / f"cat{index}.png", size=64 + 8 * index)
    report = toolkit.dispatch(
        "full_pipeline",
        {
            "dataset_name": unique("agent-full"),
            "folder": str(folder),
            "classes": [{"name": "cat", "output_type": "bbox"}],
            "pipeline": "classification",
            "config": FAST,
        },
    )
    assert report["upload"]["images_uploaded"] == 5
    assert report["annotate"]["images_processed"] == 5
    assert report.get("training_error") is None, report
    assert report["training_run"]["status"] == "completed" and report["model"]["status"] == "ready"
    assert report["success"] is True


def test_credit_tools(toolkit: Toolkit, sdk: Client) -> None:
    balance = toolkit.dispatch("get_credit_balance", {})
    assert balance["credits_remaining"] == sdk.credits.balance().credits_remaining
    estimate = toolkit.dispatch(
        "estimate_credit_cost", {"operation": "training_a10g_per_minute", "quantity": 30}
    )
    assert estimate["total_credits"] == 300
    assert estimate["sufficient"] == (balance["credits_remaining"] >= 300)
    with pytest.raises(ValidationError):
        toolkit.dispatch("estimate_credit_cost", {"operation": "teleport"})


# ───────────── connectors (their own server, pointed at fake V7 / Roboflow) ─────────────


def test_connector_tools(tmp_path: Path) -> None:
    with fakes_and_server("sqlite", tmp_path / "data") as (_, server):
        with Client(api_key=server.api_key, base_url=server.base_url) as client:
            toolkit = Toolkit(client)
            checked = toolkit.dispatch("validate_connector", {"provider": "v7", "api_key": V7_KEY})
            assert checked["valid"] is True
            road = next(d for d in checked["datasets"] if d["slug"] == "road-damage")
            job = toolkit.dispatch(
                "import_from_connector",
                {
                    "provider": "v7",
                    "api_key": V7_KEY,
                    "datasets": [{**road, "target_name": "imported-road"}],
                },
            )
            assert job["status"] == "completed" and job["imported_images"] == 3
            assert client.datasets.get("imported-road").image_count == 3
            rejected = toolkit.dispatch("validate_connector", {"provider": "v7", "api_key": "nope"})
            assert rejected["valid"] is False and rejected["datasets"] == []


# ───────────── guardrails ─────────────


def test_role_gate_with_a_viewer_key(
    sdk: Client, live_server: LiveServer, dataset: dict[str, Any]
) -> None:
    org = sdk.organizations.me()
    key = sdk.api_keys.create(org.id, unique("agent-viewer"), role="viewer").full_key
    wanted = unique("never")
    with Client(api_key=key, base_url=live_server.base_url) as viewer:
        gated = create_toolkit(viewer, role="viewer")
        assert gated.dispatch("get_dataset", {"name": dataset["name"]})["name"] == dataset["name"]
        with pytest.raises(ForbiddenError) as refused:
            gated.dispatch("create_dataset", {"name": wanted})
        assert refused.value.status_code is None
        assert refused.value.error_code == "insufficient_role"

        ungated = create_toolkit(viewer, discover_role=False)  # the server's 403 comes back
        with pytest.raises(ForbiddenError) as server:
            ungated.dispatch("create_dataset", {"name": wanted})
        assert server.value.status_code == 403
        text, is_error = ungated.dispatch_text("delete_dataset", {"name": dataset["name"]})
        assert is_error and json.loads(text)["error"]["status_code"] == 403
    names = [d.name for d in sdk.datasets.list(limit=1000)]
    assert wanted not in names and dataset["name"] in names


def test_credit_gate_with_a_short_balance(live_server: LiveServer, tmp_path: Path) -> None:
    key = add_key(
        live_server,
        "owner",
        new_org=True,
        org_fields={"credits_remaining": 2, "credits_monthly_allowance": 2},
    )
    with Client(api_key=key, base_url=live_server.base_url) as poor:
        toolkit = create_toolkit(poor)
        name = unique("poor")
        toolkit.dispatch("create_dataset", {"name": name})
        disc = write_disc(tmp_path / "disc.png")
        toolkit.dispatch("upload_image", {"dataset_name": name, "file_path": str(disc)})
        with pytest.raises(PaymentRequiredError) as gate:
            toolkit.dispatch("train_pipeline", {"dataset_name": name, "pipeline": "yolox"})
        assert gate.value.status_code is None
        assert (gate.value.required, gate.value.remaining) == (100, 2)
        assert poor.exports.list(dataset_name=name) == []  # refused before the export
        text, is_error = toolkit.dispatch_text(
            "auto_annotate_dataset", {"dataset_name": name, "classes": [{"name": "disc"}]}
        )
        assert is_error and json.loads(text)["error"]["error_code"] == "insufficient_credits"

        # 2 credits pass the gate of a 1-credit prompt; the server wants 3 for the session.
        with pytest.raises(PaymentRequiredError) as server:
            toolkit.dispatch(
                "auto_annotate_point",
                {"dataset_name": name, "image_filename": "disc.png", "x": 32, "y": 32},
            )
        assert server.value.status_code == 402 and server.value.upgrade_url
        assert poor.credits.balance().credits_remaining == 2


def test_response_cap_truncates_a_real_listing(toolkit: Toolkit, sdk: Client) -> None:
    for _ in range(5):
        toolkit.dispatch("create_dataset", {"name": unique("many")})
    full = toolkit.dispatch("list_datasets", {"limit": 1000})
    budget = estimate_tokens(full) // 2
    capped = Toolkit(sdk, max_response_tokens=budget).dispatch("list_datasets", {"limit": 1000})
    assert capped["_truncated"] is True and estimate_tokens(capped) <= budget
    assert 0 < len(capped["datasets"]) < full["count"] == capped["count"]
    assert capped["datasets"] == full["datasets"][: len(capped["datasets"])]
    assert capped["_omitted"] == full["count"] - len(capped["datasets"])
    assert toolkit.max_response_tokens == 25_000


def test_every_tool_is_dispatched_by_these_tests() -> None:
    source = Path(__file__).read_text()
    dispatched = set(re.findall(r'dispatch(?:_text)?\(\s*"(\w+)"', source))
    assert dispatched >= {spec.name for spec in REGISTRY}
