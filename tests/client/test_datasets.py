"""client.datasets and client.projects against the live server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from pictograph import BBoxAnnotation, BoundingBox, Client, ProjectClass
from pictograph.exceptions import ConflictError, NotFoundError, ValidationError
from pictograph.models.project import Project
from tests.client.conftest import ImageFactory


def test_get_by_name_and_id(client: Client, project: Project) -> None:
    by_name = client.datasets.get(project.name)
    assert by_name.id == project.id and by_name.name == project.name
    assert {c.name for c in by_name.classes} == {"car", "road", "lane", "eye"}
    assert by_name.images is None
    assert client.datasets.get_by_id(project.id).name == project.name


def test_names_are_case_sensitive(client: Client, project: Project) -> None:
    with pytest.raises(NotFoundError):
        client.datasets.get(project.name.upper())


def test_include_images_pages_the_embedded_list(
    client: Client, project: Project, make_image: ImageFactory
) -> None:
    for index in range(3):
        client.images.upload(project.id, make_image(f"{index}.png"))
    dataset = client.datasets.get(project.name, include_images=True)
    assert dataset.image_count == 3
    assert sorted(i.filename for i in dataset.images or []) == ["0.png", "1.png", "2.png"]
    first = client.datasets.get(project.name, include_images=True, images_limit=2)
    rest = client.datasets.get(project.name, include_images=True, images_limit=2, images_offset=2)
    assert len(first.images or []) == 2 and len(rest.images or []) == 1
    assert {i.id for i in first.images or []}.isdisjoint({i.id for i in rest.images or []})


def test_list_iter_and_max_total(client: Client) -> None:
    names = [f"pager-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    for name in names:
        client.projects.create(name)
    try:
        listed = {d.name for d in client.datasets.list(limit=1000)}
        assert set(names) <= listed
        assert len(client.datasets.list(limit=2)) == 2

        everything = client.datasets.iter(page_size=2).all()
        assert set(names) <= {d.name for d in everything}
        assert len({d.id for d in everything}) == len(everything)

        capped = client.datasets.iter(page_size=2, max_total=3).all()
        assert len(capped) == 3 and len({d.id for d in capped}) == 3
        assert client.datasets.iter(max_total=0).all() == []
        assert client.datasets.iter(page_size=1).first() is not None
        assert len(list(client.projects.iter(page_size=2, max_total=4))) == 4
        assert {p.name for p in client.projects.iter(page_size=3)} >= set(names)
    finally:
        for name in names:
            client.projects.delete(name)


def test_project_create_update_delete(client: Client, unique_name: str) -> None:
    created = client.projects.create(unique_name)
    assert created.annotation_types == ["bbox"] and created.classes == []
    with pytest.raises(ConflictError):
        client.projects.create(unique_name)

    updated = client.projects.update(
        unique_name,
        description="updated",
        annotation_types=["bbox", "polygon"],
        classes=[
            ProjectClass(name="stop_sign", type="bbox", color="#ff0000"),
            {"name": "yield", "type": "polygon"},
        ],
    )
    assert updated.description == "updated"
    assert updated.annotation_types == ["bbox", "polygon"]
    assert [c.name for c in updated.classes] == ["stop_sign", "yield"]
    assert client.projects.get(unique_name).classes[0].color == "#ff0000"

    renamed = f"{unique_name}-renamed"
    assert client.projects.update(unique_name, new_name=renamed).name == renamed
    with pytest.raises(NotFoundError):
        client.projects.get(unique_name)

    summary = client.projects.delete(renamed)
    assert summary["images_deleted"] == 0 and "annotations_deleted" in summary
    with pytest.raises(NotFoundError):
        client.projects.get(renamed)
    with pytest.raises(NotFoundError):
        client.projects.delete(renamed)


def test_project_validation(client: Client, unique_name: str) -> None:
    with pytest.raises(ValidationError):
        client.projects.update(unique_name)
    with pytest.raises(ValidationError):
        client.projects.create(unique_name, annotation_types=["cuboid"])
    with pytest.raises(ValidationError):
        client.projects.create(
            unique_name,
            classes=[ProjectClass(name="a", type="bbox"), ProjectClass(name="a", type="bbox")],
        )


def test_removing_a_class_removes_its_annotations(
    client: Client, project: Project, make_image: ImageFactory
) -> None:
    image = client.images.upload(project.id, make_image())
    client.annotations.save(
        image.id, [BBoxAnnotation(name="car", bounding_box=BoundingBox(x=1, y=1, w=5, h=5))]
    )
    remaining = [c for c in client.projects.get(project.name).classes if c.name != "car"]
    client.projects.update(project.name, classes=remaining)
    assert client.annotations.get(image.id) == []


@pytest.fixture()
def filled(client: Client, project: Project, make_image: ImageFactory) -> dict[str, Path]:
    """Three images: two in /a (one annotated and complete), one at the root with the same name."""
    sources = {
        "a/1.png": make_image("a1.png"),
        "a/2.png": make_image("a2.png"),
        "1.png": make_image("root1.png"),
    }
    one = client.images.upload(project.id, _renamed(sources["a/1.png"], "1.png"), folder_path="/a")
    client.images.upload(project.id, _renamed(sources["a/2.png"], "2.png"), folder_path="/a")
    client.images.upload(project.id, _renamed(sources["1.png"], "1.png"), folder_path="/")
    client.annotations.save(
        one.id, [BBoxAnnotation(id="x", name="car", bounding_box=BoundingBox(x=1, y=2, w=3, h=4))]
    )
    client.batch.update(project.name, [one.id], status="complete")
    return sources


def _renamed(path: Path, name: str) -> Path:
    target = path.parent / path.stem / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(path.read_bytes())
    return target


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_download_full(
    client: Client, project: Project, filled: dict[str, Path], tmp_path: Path
) -> None:
    calls: list[tuple[int, int, str | None]] = []
    report = client.datasets.download(
        project.name,
        tmp_path / "dump",
        progress=lambda done, total, name: calls.append((done, total, name)),
    )
    assert report.success and report.images_downloaded == 3 and report.annotations_downloaded >= 1
    files = files_under(tmp_path / "dump")
    for relative, source in filled.items():
        assert files[relative] == source.read_bytes()
    annotation = json.loads(files["a/1.png.json"])
    assert "car" in json.dumps(annotation)
    assert not [name for name in files if name.endswith(".part")]
    total = report.images_downloaded + report.annotations_downloaded
    assert [c[0] for c in calls] == list(range(1, total + 1)) and {c[1] for c in calls} == {total}


def test_download_images_only(
    client: Client, project: Project, filled: dict[str, Path], tmp_path: Path
) -> None:
    report = client.datasets.download(
        project.name, tmp_path / "dump", mode="images_only", max_workers=2
    )
    assert (report.images_downloaded, report.annotations_downloaded, report.failures) == (3, 0, [])
    assert sorted(files_under(tmp_path / "dump")) == ["1.png", "a/1.png", "a/2.png"]


def test_download_annotations_only(
    client: Client, project: Project, filled: dict[str, Path], tmp_path: Path
) -> None:
    report = client.datasets.download(project.name, tmp_path / "dump", mode="annotations_only")
    assert report.images_downloaded == 0 and report.annotations_downloaded >= 1 and report.success
    files = files_under(tmp_path / "dump")
    assert files and all(name.endswith(".json") for name in files)
    assert "a/1.png.json" in files


def test_download_status_filter(
    client: Client, project: Project, filled: dict[str, Path], tmp_path: Path
) -> None:
    report = client.datasets.download(
        project.name, tmp_path / "dump", mode="images_only", status_filter="complete"
    )
    assert report.images_downloaded == 1
    assert list(files_under(tmp_path / "dump")) == ["a/1.png"]


def test_download_errors(client: Client, project: Project, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        client.datasets.download("no-such-dataset-anywhere", tmp_path / "x")
    with pytest.raises(ValidationError):
        client.datasets.download(project.name, tmp_path / "x", mode="everything")  # type: ignore[arg-type]
    empty = client.datasets.download(project.name, tmp_path / "empty")
    assert empty.success and empty.images_downloaded == 0


def test_server_validation_errors_carry_the_fields(client: Client) -> None:
    with pytest.raises(ValidationError) as caught:
        client.datasets.list(limit=5000)
    assert caught.value.status_code == 422 and caught.value.error_code == "validation_error"
    assert any("limit" in map(str, e["loc"]) for e in caught.value.errors)
