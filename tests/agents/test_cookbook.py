"""The six recipes of the "Agent cookbook" page as scripted agent loops: each step is a tool call
decided from the previous results (no model involved), run through ``Toolkit.dispatch`` against
the live server on tiny 64 px data with the cheapest settings, and each loop's tool sequence is
checked against the documented one."""

from __future__ import annotations

import uuid
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pictograph import Client
from pictograph.agents import Toolkit, create_toolkit
from pictograph.exceptions import ForbiddenError
from tests.agents.test_toolkit import FAST, wait_indexed, write_dark, write_disc
from tests.fake_remotes import V7_KEY, fakes_and_server
from tests.live_server import LiveServer
from tests.server.helpers import add_key
from tests.training.drawn_dataset import upload_drawn


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Agent:
    """A toolkit that records the tool calls it makes, as a transcript to compare with the docs."""

    def __init__(self, toolkit: Toolkit) -> None:
        self.toolkit = toolkit
        self.calls: list[str] = []

    def __call__(self, tool: str, /, **args: Any) -> Any:
        self.calls.append(tool)
        return self.toolkit.dispatch(tool, args)


@pytest.fixture(scope="module")
def sdk(live_server: LiveServer) -> Iterator[Client]:
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as client:
        yield client


@pytest.fixture()
def agent(sdk: Client) -> Agent:
    return Agent(create_toolkit(sdk))


# ───────────── 1. credit-aware training ─────────────


def credit_aware_training(agent: Agent, dataset_name: str, minutes: int) -> dict[str, Any]:
    """Estimate first; train only when the balance covers it, else report the gap."""
    balance = agent("get_credit_balance")
    estimate = agent("estimate_credit_cost", operation="training_a10g_per_minute", quantity=minutes)
    if not estimate["sufficient"]:
        gap = estimate["total_credits"] - balance["credits_remaining"]
        return {"told_user": f"Short by {gap} credits; not training."}
    trained = agent(
        "train_pipeline",
        dataset_name=dataset_name,
        pipeline="classification",  # the cheapest pipeline stands in for the recipe's yolox
        gpu="a10g",
        config=FAST,
    )
    return {"told_user": f"Trained. Model ID: {trained['model']['id']}", **trained}


def test_recipe_1_credit_aware_training(
    agent: Agent, sdk: Client, live_server: LiveServer, tmp_path: Path
) -> None:
    name = unique("cookbook-train")
    upload_drawn(sdk, name, tmp_path / "drawn", images=6)
    outcome = credit_aware_training(agent, name, minutes=1)
    assert agent.calls == ["get_credit_balance", "estimate_credit_cost", "train_pipeline"]
    assert outcome["model"]["status"] == "ready"
    assert outcome["told_user"].endswith(outcome["model"]["id"])

    poor_key = add_key(live_server, "owner", new_org=True, org_fields={"credits_remaining": 5})
    with Client(api_key=poor_key, base_url=live_server.base_url) as poor:
        short = Agent(create_toolkit(poor))
        outcome = credit_aware_training(short, "anything", minutes=30)
    assert short.calls == ["get_credit_balance", "estimate_credit_cost"]  # never trained
    assert outcome["told_user"] == "Short by 295 credits; not training."


# ───────────── 2. V7 import → auto-annotate with a new class ─────────────


def test_recipe_2_v7_import_then_auto_annotate(tmp_path: Path) -> None:
    with fakes_and_server("sqlite", tmp_path / "data") as (_, server):
        with Client(api_key=server.api_key, base_url=server.base_url) as client:
            agent = Agent(create_toolkit(client))
            checked = agent("validate_connector", provider="v7", api_key=V7_KEY)
            assert checked["valid"]
            chosen = next(d for d in checked["datasets"] if d["name"] == "Road damage")
            imported = agent(
                "import_from_connector",
                provider="v7",
                api_key=V7_KEY,
                datasets=[{**chosen, "target_name": "road-damage"}],
            )
            assert imported["status"] == "completed"
            report = agent(
                "auto_annotate_dataset",
                dataset_name="road-damage",
                classes=[{"name": "pothole", "output_type": "polygon"}],
                mode="batch",
            )
            assert agent.calls == [
                "validate_connector",
                "import_from_connector",
                "auto_annotate_dataset",
            ]
            # a.png and b.png came with V7 annotations, which are kept: only c.png is annotated.
            assert report["images_skipped"] == 2 and report["images_processed"] == 1
            assert report["failures"] == []
            assert "pothole" in [c.name for c in client.datasets.get("road-damage").classes]
            images = client.datasets.get("road-damage", include_images=True).images or []
            a_png = next(i for i in images if i.filename == "a.png")
            assert "crack" in [a.name for a in client.annotations.get(a_png.id)]


# ───────────── 3. batch SAM3 with a per-image text fallback ─────────────


def test_recipe_3_batch_with_text_fallback(agent: Agent, tmp_path: Path) -> None:
    name = unique("cookbook-wildlife")
    agent("create_dataset", name=name, classes=[{"name": "disc", "type": "polygon"}])
    for filename, writer in (("disc.png", write_disc), ("dark.png", write_dark)):
        agent("upload_image", dataset_name=name, file_path=str(writer(tmp_path / filename)))
    agent.calls.clear()

    report = agent(
        "auto_annotate_dataset",
        dataset_name=name,
        classes=[{"name": "disc", "output_type": "polygon"}],
        mode="batch",
    )
    assert report["images_attempted"] == 2
    images = agent("get_dataset", name=name, include_images=True)["images"]
    failed = {f["image_filename"] for f in report["failures"]}
    # Retry what the batch failed on, and what it left without a single annotation.
    retry = [i for i in images if i["filename"] in failed or i["annotation_count"] == 0]
    for image in retry:
        found = agent(
            "auto_annotate_text",
            dataset_name=name,
            image_filename=image["filename"],
            text_prompt="disc",
            name="disc",
            confidence_threshold=0.3,
        )
        assert found["status"] in ("success", "no_detection", "below_threshold")
        if found["annotations"]:
            agent("save_annotations", image_uuid=image["id"], annotations=found["annotations"])

    assert agent.calls[:2] == ["auto_annotate_dataset", "get_dataset"]
    assert agent.calls.count("auto_annotate_text") == len(retry)
    assert set(agent.calls[2:]) <= {"auto_annotate_text", "save_annotations"}
    after = {
        i["filename"]: i for i in agent("get_dataset", name=name, include_images=True)["images"]
    }
    for image in images:
        if image["filename"] not in {i["filename"] for i in retry}:
            assert after[image["filename"]]["annotation_count"] > 0


# ───────────── 4. multi-class export with status filtering ─────────────


def box(name: str, x: int) -> dict[str, Any]:
    return {"name": name, "type": "bbox", "bounding_box": {"x": x, "y": 8, "w": 12, "h": 12}}


def test_recipe_4_filtered_yolo_export(agent: Agent, tmp_path: Path) -> None:
    name = unique("cookbook-signs")
    classes = [{"name": c, "type": "bbox"} for c in ("stop_sign", "yield", "speed_limit")]
    agent("create_dataset", name=name, classes=classes)
    done = agent("upload_image", dataset_name=name, file_path=str(write_disc(tmp_path / "a.png")))
    agent("upload_image", dataset_name=name, file_path=str(write_dark(tmp_path / "b.png")))
    agent(
        "save_annotations",
        image_uuid=done["id"],
        annotations=[box("stop_sign", 2), box("yield", 20), box("speed_limit", 40)],
    )
    agent.calls.clear()

    wanted = ["stop_sign", "yield"]
    dataset = agent("get_dataset", name=name)
    assert set(wanted) <= {c["name"] for c in dataset["classes"]}
    export_name = f"stop-yield-yolo-{date.today().isoformat()}"
    export = agent(
        "create_export",
        dataset_name=name,
        name=export_name,
        format="yolo",
        include_images=True,
        class_filter=wanted,
        status_filter="complete",
    )
    assert export["status"] == "completed" and export["image_count"] == 1  # b.png is not done
    target = tmp_path / "stop-yield.zip"
    saved = agent(
        "download_export", dataset_name=name, export_name=export_name, output_path=str(target)
    )
    assert agent.calls == ["get_dataset", "create_export", "download_export"]
    assert saved["size_bytes"] == target.stat().st_size > 0
    with zipfile.ZipFile(target) as bundle:
        names = bundle.namelist()
        labels = [n for n in names if n.endswith(".txt") and "label" in n.lower()]
        lines = [line for n in labels for line in bundle.read(n).decode().splitlines() if line]
        text = "\n".join(
            bundle.read(n).decode(errors="ignore")
            for n in names
            if n.endswith((".yaml", ".yml", ".txt", ".names"))
        )
    assert any(n.endswith(".png") for n in names)
    assert "stop_sign" in text and "yield" in text and "speed_limit" not in text
    assert len(lines) == 2  # one YOLO line per kept box


# ───────────── 5. cleanup confirmation flow ─────────────


def test_recipe_5_cleanup_with_confirmation(live_server: LiveServer) -> None:
    admin_key = add_key(live_server, "admin", new_org=True)
    with Client(api_key=admin_key, base_url=live_server.base_url) as client:
        agent = Agent(create_toolkit(client))
        for dataset_name in ("test-1", "test-2", "production"):
            agent("create_dataset", name=dataset_name)
        agent.calls.clear()

        listed = agent("list_datasets", limit=100)["datasets"]
        candidates = sorted(d["name"] for d in listed if "test" in d["name"])
        assert candidates == ["test-1", "test-2"]
        user_reply = "test-1, test-2"  # the user confirms by repeating the names
        confirmed = [n.strip() for n in user_reply.split(",") if n.strip() in candidates]
        deleted = [agent("delete_dataset", name=n)["name"] for n in confirmed]
        assert deleted == ["test-1", "test-2"]
        assert agent.calls == ["list_datasets", "delete_dataset", "delete_dataset"]
        remaining = [d["name"] for d in agent("list_datasets", limit=100)["datasets"]]
        assert remaining == ["production"]

        member_key = client.api_keys.create(
            client.organizations.me().id, "cleanup-member", role="member"
        ).full_key
    with Client(api_key=member_key, base_url=live_server.base_url) as member:
        with pytest.raises(ForbiddenError):  # delete_dataset needs admin: refused up front
            create_toolkit(member).dispatch("delete_dataset", {"name": "production"})
        assert [d.name for d in member.datasets.list()] == ["production"]


# ───────────── 6. folder reorganisation with a batch op ─────────────


def test_recipe_6_move_tagged_images(agent: Agent, sdk: Client, tmp_path: Path) -> None:
    """The recipe's 'blurry' becomes 'dark', the attribute tiny drawn scenes reliably get."""
    name = unique("cookbook-move")
    agent("create_dataset", name=name)
    dark = agent("upload_image", dataset_name=name, file_path=str(write_dark(tmp_path / "d.png")))
    agent("upload_image", dataset_name=name, file_path=str(write_disc(tmp_path / "disc.png")))
    wait_indexed(sdk, name)
    agent.calls.clear()

    hits = agent("search_by_tag", dataset_name=name, attributes=["dark"], limit=500)["images"]
    ids = [hit["image_id"] for hit in hits]
    assert ids == [dark["id"]]
    # No tool moves images: the agent uses the SDK's batch call, one round trip for all of them.
    moved = agent.toolkit.client.batch.move(name, ids, target_folder_path="/dark")
    assert moved.succeeded == ids and moved.failed_count == 0
    assert agent.calls == ["search_by_tag"]
    folders = {
        i["filename"]: i["virtual_folder_path"]
        for i in agent("get_dataset", name=name, include_images=True)["images"]
    }
    assert folders == {"d.png": "/dark", "disc.png": "/"}
