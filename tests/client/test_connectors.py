"""The SDK's ``client.connectors`` (against fake V7 / Roboflow remotes) and ``client.imports``.

Exactly as the Connectors page documents: validate → RemoteDataset list, check_limits,
import_ with wait / poll_interval / timeout returning an ImportJob, get_import,
wait_for_import raising PollTimeoutError that carries the id, cancel_import.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from pictograph import Client
from pictograph.exceptions import (
    ApiError,
    AuthError,
    NotFoundError,
    PollTimeoutError,
    ValidationError,
)
from pictograph.models.connector import ImportJob, LimitCheckResult, RemoteDataset, ValidationResult
from pictograph.models.imports import DatasetImport
from tests.fake_remotes import (
    ROBOFLOW_KEY,
    V7_KEY,
    FakeRemotes,
    V7Dataset,
    V7Item,
    default_v7_datasets,
    fakes_and_server,
)
from tests.live_server import LiveServer


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeRemotes, LiveServer]]:
    with fakes_and_server("sqlite", tmp_path_factory.mktemp("sdk-connectors") / "data") as pair:
        yield pair


@pytest.fixture()
def fakes(remote: tuple[FakeRemotes, LiveServer]) -> Iterator[FakeRemotes]:
    yield remote[0]
    remote[0].image_delay = 0.0
    remote[0].v7_datasets[:] = default_v7_datasets()


@pytest.fixture()
def sdk(remote: tuple[FakeRemotes, LiveServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Client]:
    monkeypatch.setenv("PICTOGRAPH_CONFIG_FILE", str(tmp_path / "no-config.toml"))
    server = remote[1]
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        yield client


# ───────────── connectors ─────────────


def test_validate_and_check_limits(sdk: Client) -> None:
    result = sdk.connectors.validate(provider="v7", api_key=V7_KEY)
    assert isinstance(result, ValidationResult) and result.valid
    assert [(d.id, d.name, d.slug, d.image_count) for d in result.datasets] == [
        ("101", "Road damage", "road-damage", 4), ("102", "Other set", "other-set", 3),
    ]
    assert all(isinstance(d, RemoteDataset) for d in result.datasets)
    roboflow = sdk.connectors.validate("roboflow", ROBOFLOW_KEY)
    assert roboflow.datasets[0].version == 2
    rejected = sdk.connectors.validate("v7", "nope")
    assert not rejected.valid and rejected.datasets == [] and "Invalid API key" in (rejected.error or "")

    check = sdk.connectors.check_limits(total_images=12500, estimated_size_bytes=4_000_000_000)
    assert isinstance(check, LimitCheckResult) and check.allowed and check.exceeded is None


def test_import_waits_for_the_job(sdk: Client, unique_name: str) -> None:
    result = sdk.connectors.validate("v7", V7_KEY)
    road = result.datasets[0].model_copy(update={"target_name": unique_name})
    seen: list[ImportJob] = []
    job = sdk.connectors.import_("v7", V7_KEY, [road], poll_interval=0.2, timeout=60, progress=seen.append)
    assert isinstance(job, ImportJob)
    assert job.status == "completed" and job.is_terminal and job.progress == 100.0
    (row,) = job.datasets
    assert (row.name, row.dataset_name, row.status) == (unique_name, unique_name, "completed")
    assert row.imported == row.images_imported == 3 and row.total_images == 4
    assert row.skipped == {"v7 tag": 1, "v7 ellipse": 1, "v7 video item": 1}
    assert seen and seen[-1].status == "completed"
    dataset = sdk.datasets.get(unique_name)
    assert dataset.image_count == 3
    assert {c.name for c in dataset.classes} >= {"crack", "car", "lane", "light"}


def test_import_with_raw_dicts_without_waiting(sdk: Client, unique_name: str) -> None:
    job = sdk.connectors.import_(
        "v7", V7_KEY, [{"id": "102", "name": "Other set", "slug": "other-set", "target_name": unique_name}], wait=False
    )
    assert job.status == "processing" and job.import_id
    finished = sdk.connectors.wait_for_import(job.import_id, poll_interval=0.2, timeout=60)
    assert finished.status == "completed" and finished.imported_images == 3
    assert sdk.connectors.get_import(job.import_id).status == "completed"


def test_wait_for_import_times_out_with_the_id_and_cancel(sdk: Client, fakes: FakeRemotes, unique_name: str) -> None:
    fakes.v7_datasets.append(V7Dataset(104, "Slow", "slow", [V7Item(f"s{i}.png", color=(i, 1, 1)) for i in range(30)]))
    fakes.image_delay = 0.5
    slow = next(d for d in sdk.connectors.validate("v7", V7_KEY).datasets if d.slug == "slow")
    with pytest.raises(PollTimeoutError) as raised:
        sdk.connectors.import_("v7", V7_KEY, [slow.model_copy(update={"target_name": unique_name})], poll_interval=0.1, timeout=0.5)
    import_id = raised.value.job_id
    assert import_id and import_id in str(raised.value)
    assert sdk.connectors.get_import(import_id).status == "processing"  # it keeps running
    cancelled = sdk.connectors.cancel_import(import_id)
    assert cancelled.status == "cancelled" and cancelled.imported_images < 30


def test_connector_errors(sdk: Client) -> None:
    road = sdk.connectors.validate("v7", V7_KEY).datasets[0]
    with pytest.raises(AuthError) as auth:
        sdk.connectors.import_("v7", "wrong", [road])
    assert auth.value.error_code == "connector_auth_failed"
    with pytest.raises(ValidationError):
        sdk.connectors.import_("v7", V7_KEY, [])
    with pytest.raises(ValidationError):
        sdk.connectors.import_("bogus", V7_KEY, [road])  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        sdk.connectors.get_import("00000000-0000-0000-0000-000000000000")
    with pytest.raises(ValueError):
        sdk.connectors.wait_for_import("x", timeout=0)


# ───────────── imports from files ─────────────


def _png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buffer, format="PNG")
    return buffer.getvalue()


def v7_folder(root: Path) -> Path:
    (root / "images" / "night").mkdir(parents=True)
    (root / "images" / "a.png").write_bytes(_png((200, 0, 0)))
    (root / "images" / "night" / "b.png").write_bytes(_png((0, 0, 200)))
    for name, path, shapes in [
        ("a.png", "/", [{"id": "1", "name": "car", "bounding_box": {"x": 1, "y": 1, "w": 5, "h": 5}}, {"id": "2", "name": "wet", "tag": {}}]),
        ("b.png", "/night", [{"id": "3", "name": "lane", "line": {"path": [{"x": 0, "y": 0}, {"x": 5, "y": 5}]}}]),
    ]:
        document = {"version": "2.0", "item": {"name": name, "path": path, "slots": [{"slot_name": "0"}]}, "annotations": shapes}
        (root / f"{name}.json").write_text(json.dumps(document))
    return root


def test_imports_create_from_a_folder(client: Client, tmp_path: Path, unique_name: str) -> None:
    sent: list[tuple[int, int]] = []
    polled: list[DatasetImport] = []
    job = client.imports.create(
        unique_name, v7_folder(tmp_path / "v7"), poll_interval=0.2, timeout=60,
        progress=polled.append, upload_progress=lambda done, total: sent.append((done, total)),
    )
    assert isinstance(job, DatasetImport) and job.status == "completed" and job.is_terminal
    report = job.report
    assert report is not None and report.format == "v7"
    assert (report.images_imported, report.annotations_imported) == (2, 2)
    assert report.skipped == {"v7 tag": 1} and report.dataset_created
    assert sorted(report.classes_created) == ["car", "lane"]
    assert sent and sent[-1][0] == sent[-1][1]
    assert polled and polled[-1].status == "completed"
    assert client.imports.get(job.id).report == report
    assert client.imports.list(limit=1)[0].id == job.id
    assert client.datasets.get(unique_name).image_count == 2


def test_imports_create_from_a_zip_without_waiting(client: Client, tmp_path: Path, unique_name: str) -> None:
    folder = v7_folder(tmp_path / "v7")
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in folder.rglob("*"):
            if path.is_file():
                out.write(path, path.relative_to(folder).as_posix())
    job = client.imports.create(unique_name, archive, format="v7", wait=False)
    assert job.status in ("pending", "running", "completed") and job.filename == "set.zip"
    done = client.imports.wait_for_completion(job.id, poll_interval=0.2, timeout=60)
    assert done.status == "completed" and done.report is not None and done.report.images_imported == 2


def test_imports_errors(client: Client, tmp_path: Path, unique_name: str) -> None:
    with pytest.raises(ValidationError):
        client.imports.create(unique_name, tmp_path / "missing")
    not_zip = tmp_path / "notes.txt"
    not_zip.write_text("hello")
    with pytest.raises(ValidationError):
        client.imports.create(unique_name, not_zip)
    with pytest.raises(ValidationError):
        client.imports.create(unique_name, tmp_path, format="darknet")
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as out:
        out.writestr("../../evil.png", _png((1, 1, 1)))
    with pytest.raises(ValidationError) as unsafe:
        client.imports.create(unique_name, slip)
    assert unsafe.value.error_code == "unsafe_archive"
    with pytest.raises(NotFoundError):
        client.imports.create(unique_name, v7_folder(tmp_path / "v7"), create_if_missing=False)
    with pytest.raises(NotFoundError):
        client.imports.get("00000000-0000-0000-0000-000000000000")


def test_a_failed_import_raises_with_its_message(client: Client, tmp_path: Path, unique_name: str) -> None:
    folder = tmp_path / "unknown"
    folder.mkdir()
    (folder / "readme.txt").write_text("no annotations in any known format")
    with pytest.raises(ApiError) as failed:
        client.imports.create(unique_name, folder, poll_interval=0.2, timeout=60)
    assert "Could not detect the annotation format" in str(failed.value)
