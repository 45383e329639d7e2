"""client.search against the live server (both databases): background indexing of uploads,
similarity that finds a flipped or resized copy first, tag search over measured attributes and
model-judged objects, and the documented errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageFilter

from pictograph import Client
from pictograph.exceptions import ConflictError, NotFoundError, ValidationError
from pictograph.models.project import Project
from tests.indexing import save, wait_indexed

skimage_data = pytest.importorskip("skimage.data")

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture()
def photos(tmp_path: Path) -> dict[str, Path]:
    """Five unrelated photos, a mirrored cat and a half-size astronaut."""
    chelsea = skimage_data.chelsea()
    astronaut = skimage_data.astronaut()
    sources = {
        "chelsea.jpg": chelsea,
        "astronaut.jpg": astronaut,
        "coffee.jpg": skimage_data.coffee(),
        "rocket.jpg": skimage_data.rocket(),
        "hubble.jpg": skimage_data.hubble_deep_field()[:400, :400],
        "chelsea-mirror.jpg": chelsea[:, ::-1],
        "astronaut-small.jpg": np.asarray(PILImage.fromarray(astronaut).resize((256, 256))),
    }
    return {
        name: save(np.ascontiguousarray(pixels), tmp_path / name)
        for name, pixels in sources.items()
    }


@pytest.fixture()
def photo_set(client: Client, project: Project, photos: dict[str, Path]) -> dict[str, str]:
    """The photos uploaded into ``/shots`` and indexed; filename → image id."""
    ids = {
        name: client.images.upload(project.id, path, folder_path="/shots").id
        for name, path in photos.items()
    }
    wait_indexed(client, project.name)
    return ids


def test_a_mirrored_or_resized_copy_comes_back_first(
    client: Client, photo_set: dict[str, str]
) -> None:
    for reference, copy in (
        ("chelsea.jpg", "chelsea-mirror.jpg"),
        ("astronaut.jpg", "astronaut-small.jpg"),
    ):
        results = client.search.by_similarity(photo_set[reference], threshold=0.0, limit=10)
        assert results[0].image_id == photo_set[copy], [(r.filename, r.similarity) for r in results]
        assert results[0].similarity > 0.85
        assert photo_set[reference] not in {r.image_id for r in results}
        similarities = [r.similarity for r in results]
        assert similarities == sorted(similarities, reverse=True)
        assert len(results) == len(photo_set) - 1


def test_threshold_and_limit_cut_the_results(client: Client, photo_set: dict[str, str]) -> None:
    cat = photo_set["chelsea.jpg"]
    everything = client.search.by_similarity(cat, threshold=0.0, limit=50)
    cut = (everything[0].similarity + everything[1].similarity) / 2
    above = client.search.by_similarity(cat, threshold=cut)
    assert [r.image_id for r in above] == [everything[0].image_id]
    assert len(client.search.by_similarity(cat, threshold=0.0, limit=2)) == 2
    assert client.search.by_similarity(cat, threshold=0.0, limit=10_000)  # capped, not refused


def test_scope_is_the_reference_folder_unless_overridden(
    client: Client, project: Project, photos: dict[str, Path], photo_set: dict[str, str]
) -> None:
    elsewhere = client.images.upload(project.id, photos["chelsea-mirror.jpg"], folder_path="/other")
    below = client.images.upload(project.id, photos["chelsea-mirror.jpg"], folder_path="/shots/sub")
    wait_indexed(client, project.name)
    cat = photo_set["chelsea.jpg"]
    inherited = {r.image_id for r in client.search.by_similarity(cat, threshold=0.0)}
    assert below.id in inherited and elsewhere.id not in inherited
    whole = {r.image_id for r in client.search.by_similarity(cat, threshold=0.0, folder_path="/")}
    assert {below.id, elsewhere.id} <= whole
    other = client.search.by_similarity(cat, threshold=0.0, folder_path="/other")
    assert [r.image_id for r in other] == [elsewhere.id]


def test_archived_images_drop_out_of_results(client: Client, photo_set: dict[str, str]) -> None:
    client.images.delete(photo_set["chelsea-mirror.jpg"])
    results = client.search.by_similarity(photo_set["chelsea.jpg"], threshold=0.0)
    assert photo_set["chelsea-mirror.jpg"] not in {r.image_id for r in results}


def test_similarity_errors(client: Client, photo_set: dict[str, str]) -> None:
    with pytest.raises(NotFoundError):
        client.search.by_similarity(MISSING)
    with pytest.raises(ValidationError) as error:
        client.search.by_similarity(photo_set["coffee.jpg"], threshold=1.5)
    assert error.value.errors[0]["loc"] == ["threshold"]
    with pytest.raises(ValidationError):
        client.search.by_similarity(photo_set["coffee.jpg"], limit=0)


def _drawn(kind: str, seed: int) -> np.ndarray:
    """A 160×120 scene of hard-edged shapes, then made dark, bright or blurry."""
    rng = np.random.default_rng(seed)
    pixels = np.full((120, 160, 3), 128, np.uint8)
    for _ in range(6):
        y, x = rng.integers(0, 100), rng.integers(0, 140)
        pixels[y : y + 20, x : x + 20] = rng.integers(0, 256, 3)
    if kind == "dark":
        return (pixels * 0.15).astype(np.uint8)
    if kind == "bright":
        return (255 - (255 - pixels.astype(np.float32)) * 0.12).astype(np.uint8)
    if kind == "blurry":
        return np.asarray(PILImage.fromarray(pixels).filter(ImageFilter.GaussianBlur(4)))
    return pixels


def test_tags_from_measured_attributes_and_objects(
    client: Client, project: Project, photos: dict[str, Path], tmp_path: Path
) -> None:
    ids = {
        kind: client.images.upload(project.id, save(_drawn(kind, i), tmp_path / f"{kind}.png")).id
        for i, kind in enumerate(("dark", "bright", "blurry", "sharp"))
    }
    ids["cat"] = client.images.upload(project.id, photos["chelsea.jpg"]).id
    wait_indexed(client, project.name)

    def found(**filters: object) -> set[str]:
        return {r.image_id for r in client.search.by_tag(dataset_name=project.name, **filters)}

    assert found(attributes=["dark"]) == {ids["dark"]}
    assert found(attributes=["bright"]) == {ids["bright"]}
    assert ids["blurry"] in found(attributes=["blurry"])
    assert ids["sharp"] not in found(attributes=["blurry"])
    assert found(attributes=["dark", "bright"]) == {ids["dark"], ids["bright"]}  # OR within
    assert ids["cat"] in found(objects=["cat"])
    assert found(objects=["cat"], attributes=["dark"]) == set()  # AND across
    cat = client.images.get(ids["cat"])
    assert "cat" in cat.image_auto_tags["objects"]
    result = client.search.by_tag(objects=["cat"], dataset_name=project.name)[0]
    assert result.tags["objects"] == cat.image_auto_tags["objects"]
    assert result.dataset_id == project.id
    # the bundled model cannot judge scenes: none are guessed
    assert cat.image_auto_tags["scenes"] == []
    assert ids["cat"] in {r.image_id for r in client.search.by_tag(objects=["cat"])}  # org-wide


def test_tag_search_errors(client: Client, project: Project) -> None:
    with pytest.raises(ValidationError):
        client.search.by_tag()
    with pytest.raises(ValidationError) as error:
        client.search.by_tag(objects=["cat", "not-a-real-tag"])
    assert error.value.errors[0]["loc"] == ["objects", 1]
    with pytest.raises(NotFoundError):
        client.search.by_tag(objects=["cat"], dataset_name="no-such-dataset-x")
    taxonomy = client.search.taxonomy()
    assert "car" in taxonomy.objects and "blurry" in taxonomy.attributes and taxonomy.scenes


def test_an_image_not_indexed_yet_is_a_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With indexing off, search says so (409); the next start indexes what was missed."""
    from tests.live_server import running_server

    monkeypatch.setenv("PICTOGRAPH_CONFIG_FILE", str(tmp_path / "none.toml"))
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    picture = save(skimage_data.coffee(), tmp_path / "coffee.jpg")
    with running_server("sqlite", data_dir, PICTOGRAPH_INDEX_IMAGES="false") as server:
        with Client(api_key=server.api_key, base_url=server.base_url) as sdk:
            dataset = sdk.projects.create("unindexed")
            image = sdk.images.upload(dataset.id, picture)
            with pytest.raises(ConflictError):
                sdk.search.by_similarity(image.id)
            assert sdk.search.status("unindexed").pending_images == 1
    from tests.live_server import start_server

    server = start_server(data_dir, None, "sqlite")
    try:
        with Client(api_key=server.api_key, base_url=server.base_url) as sdk:
            wait_indexed(sdk, "unindexed")
            assert sdk.search.by_similarity(image.id) == []
    finally:
        server.stop()
