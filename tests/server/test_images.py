"""Images over HTTP: the three-step upload, metadata, bytes, deletes, and every way to get it wrong."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select

from pictograph.server import security
from pictograph.server.db.tables import Image
from tests.live_server import LiveServer, start_server
from tests.server.helpers import API, add_key, database, developer_http, image_bytes, new_dataset

# ───────────── helpers ─────────────


def ticket(
    client: httpx.Client, dataset_id: str, filename: str, folder: str = "/", **extra
) -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {"dataset_id": dataset_id, "filename": filename, "folder_path": folder, **extra}
    return client.post("/images/upload-url", json=body)


def register(
    client: httpx.Client, dataset_id: str, filename: str, t: dict, folder: str = "/", **extra
) -> httpx.Response:  # type: ignore[no-untyped-def]
    form = {
        "dataset_id": dataset_id, "filename": filename, "gcs_bucket": t["gcs_bucket"],
        "gcs_path": t["gcs_path"], "gcs_uri": t["gcs_uri"], "folder_path": folder,
        "file_size": "1", "mime_type": "image/png", "image_width": "", "image_height": "", **extra,
    }  # fmt: skip
    return client.post("/images/register", data=form)


def upload(
    client: httpx.Client,
    dataset_id: str,
    filename: str = "a.png",
    folder: str = "/",
    data: bytes | None = None,
) -> dict:  # type: ignore[no-untyped-def]
    t = ticket(client, dataset_id, filename, folder)
    assert t.status_code == 200, t.text
    put = httpx.put(
        t.json()["upload_url"],
        content=data or image_bytes(),
        headers={"Content-Type": t.json()["content_type"]},
    )
    assert put.status_code == 200, put.text
    response = register(client, dataset_id, filename, t.json(), folder)
    assert response.status_code == 201, response.text
    return response.json()["image"]


def blob_path(server: LiveServer, key: str) -> Path:
    return server.data_dir / "blobs" / key


def count_rows(server: LiveServer, dataset_id: str) -> int:
    db = database(server)
    try:
        with db.session() as session:
            return len(
                session.scalars(select(Image.id).where(Image.project_id == dataset_id)).all()
            )
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def owner(live_server: LiveServer) -> Iterator[httpx.Client]:
    with developer_http(live_server, live_server.api_key) as client:
        yield client


@pytest.fixture(scope="module")
def dataset(owner: httpx.Client) -> dict:
    return new_dataset(owner, classes=[{"name": "car"}])


# ───────────── the happy path ─────────────


def test_upload_register_metadata_and_bytes(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    data = image_bytes(size=(40, 30))
    t = ticket(owner, dataset["id"], "photo.png", "cars/", content_type="image/png")
    assert t.status_code == 200, t.text
    tk = t.json()
    assert tk["gcs_bucket"] == "local" and tk["upload_url"].startswith(
        live_server.base_url + "/blobs/"
    )
    assert tk["gcs_path"].startswith("orgs/") and f"/projects/{dataset['id']}/" in tk["gcs_path"]
    assert tk["folder_path"] == "/cars" and tk["expires_at"].endswith("+00:00")
    assert (
        httpx.put(tk["upload_url"], content=data, headers={"Content-Type": "image/png"}).status_code
        == 200
    )

    # The client's claims (size 1, 999×999, jpeg) lose to what the server measures.
    response = register(owner, dataset["id"], "photo.png", tk, "cars/", image_width="999", image_height="999",
                        mime_type="image/jpeg")  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    image = body["image"]
    assert body["image_id"] == image["id"]
    assert (image["width"], image["height"], image["image_width"], image["image_height"]) == (
        40,
        30,
        40,
        30,
    )
    assert image["file_size"] == len(data) and image["mime_type"] == "image/png"
    assert (
        image["virtual_folder_path"] == "/cars"
        and image["status"] == "new"
        and image["dataset_id"] == dataset["id"]
    )
    assert image["annotation_url"] is None and image["is_archived"] is False

    meta = owner.get(f"/images/{image['id']}/metadata")
    assert meta.status_code == 200
    got = meta.json()["image"]
    assert got["image_url"] == f"{live_server.base_url}{API}/images/{image['id']}"
    assert got["created_at"].endswith("+00:00") and got["filename"] == "photo.png"

    raw = owner.get(f"/images/{image['id']}")
    assert raw.status_code == 200 and raw.content == data
    assert raw.headers["content-type"] == "image/png"
    # image_url is authenticated.
    assert httpx.get(got["image_url"]).status_code == 401


@pytest.mark.parametrize(
    ("fmt", "name", "mime"),
    [("JPEG", "x.jpg", "image/jpeg"), ("JPEG", "x.JPEG", "image/jpeg"), ("WEBP", "x.webp", "image/webp"),
     ("GIF", "x.gif", "image/gif"), ("BMP", "x.bmp", "image/bmp"), ("TIFF", "x.tif", "image/tiff")],
)  # fmt: skip
def test_supported_formats(
    owner: httpx.Client, dataset: dict, fmt: str, name: str, mime: str
) -> None:
    name = f"{uuid.uuid4().hex[:6]}-{name}"
    image = upload(owner, dataset["id"], name, data=image_bytes(fmt))
    assert image["mime_type"] == mime and (image["width"], image["height"]) == (32, 32)


def test_heic_is_converted_to_png(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    try:
        heic = image_bytes("HEIF", size=(20, 10))
    except (OSError, ValueError, KeyError, RuntimeError) as error:  # pragma: no cover - no encoder
        pytest.skip(f"cannot encode HEIC here: {error}")
    t = ticket(owner, dataset["id"], "phone.heic").json()
    assert t["content_type"] == "image/heic"
    assert (
        httpx.put(t["upload_url"], content=heic, headers={"Content-Type": "image/heic"}).status_code
        == 200
    )
    response = register(owner, dataset["id"], "phone.heic", t)
    assert response.status_code == 201, response.text
    image = response.json()["image"]
    assert image["filename"] == "phone.png" and image["mime_type"] == "image/png"
    assert (image["width"], image["height"]) == (20, 10)
    raw = owner.get(f"/images/{image['id']}")
    assert raw.content.startswith(b"\x89PNG") and raw.headers["content-type"] == "image/png"
    assert not blob_path(live_server, t["gcs_path"]).exists(), "the HEIC original is not kept"


# ───────────── bad input ─────────────


@pytest.mark.parametrize(
    "filename",
    [
        "../x.jpg",
        "/etc/passwd.jpg",
        "a\x00.jpg",
        "..",
        "a\\b.jpg",
        "",
        "  ",
        "dir/x.png",
        "C:\\x.png",
    ],
)
def test_unsafe_filenames_are_422(owner: httpx.Client, dataset: dict, filename: str) -> None:
    response = ticket(owner, dataset["id"], filename)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["filename"]


@pytest.mark.parametrize("folder", ["../up", "/a/../../b", "a\x00b", "a\\b"])
def test_unsafe_folders_are_422(owner: httpx.Client, dataset: dict, folder: str) -> None:
    response = ticket(owner, dataset["id"], "ok.png", folder)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["folder_path"]


@pytest.mark.parametrize(
    "folder,expected", [("", "/"), ("cars", "/cars"), ("//cars//red/./", "/cars/red")]
)
def test_folders_are_normalised(
    owner: httpx.Client, dataset: dict, folder: str, expected: str
) -> None:
    assert ticket(owner, dataset["id"], "ok.png", folder).json()["folder_path"] == expected


@pytest.mark.parametrize("filename", ["notes.txt", "archive.tar.gz", "noext", "x.svg", ".png"])
def test_unsupported_extension_is_415(owner: httpx.Client, dataset: dict, filename: str) -> None:
    response = ticket(owner, dataset["id"], filename)
    assert response.status_code == 415, response.text
    assert response.json()["error_code"] == "unsupported_media_type"


def test_non_image_content_type_is_415(owner: httpx.Client, dataset: dict) -> None:
    assert ticket(owner, dataset["id"], "a.png", content_type="text/html").status_code == 415


def test_duplicate_filename_is_409_at_both_steps(
    live_server: LiveServer, owner: httpx.Client
) -> None:
    ds = new_dataset(owner)
    # Two tickets for the same name are both handed out; only the first registration wins.
    first, second = (ticket(owner, ds["id"], "same.png", "/f").json() for _ in range(2))
    for t in (first, second):
        assert (
            httpx.put(
                t["upload_url"], content=image_bytes(), headers={"Content-Type": "image/png"}
            ).status_code
            == 200
        )
    assert register(owner, ds["id"], "same.png", first, "/f").status_code == 201
    clash = register(owner, ds["id"], "same.png", second, "/f")
    assert clash.status_code == 409, clash.text
    assert count_rows(live_server, ds["id"]) == 1
    assert not blob_path(live_server, second["gcs_path"]).exists()
    assert blob_path(live_server, first["gcs_path"]).exists()
    # Now the name is taken, the first step refuses it too; another folder is fine.
    assert ticket(owner, ds["id"], "same.png", "f/").status_code == 409
    assert ticket(owner, ds["id"], "same.png", "/g").status_code == 200


def test_registering_the_same_upload_twice_is_409_and_keeps_the_bytes(
    live_server: LiveServer, owner: httpx.Client
) -> None:
    ds = new_dataset(owner)
    t = ticket(owner, ds["id"], "once.png").json()
    httpx.put(t["upload_url"], content=image_bytes(), headers={"Content-Type": "image/png"})
    image = register(owner, ds["id"], "once.png", t).json()["image"]
    again = register(owner, ds["id"], "other-name.png", t)
    assert again.status_code == 409
    assert owner.get(f"/images/{image['id']}").status_code == 200
    assert count_rows(live_server, ds["id"]) == 1


@pytest.mark.parametrize(
    "data", [b"this is not an image", image_bytes()[:60], b"\x89PNG\r\n\x1a\n" + b"\0" * 40]
)
def test_corrupt_or_truncated_image_is_422_and_leaves_nothing(
    live_server: LiveServer, owner: httpx.Client, data: bytes
) -> None:
    ds = new_dataset(owner)
    t = ticket(owner, ds["id"], "broken.png").json()
    assert (
        httpx.put(t["upload_url"], content=data, headers={"Content-Type": "image/png"}).status_code
        == 200
    )
    response = register(owner, ds["id"], "broken.png", t)
    assert response.status_code == 422, response.text
    assert count_rows(live_server, ds["id"]) == 0
    assert not blob_path(live_server, t["gcs_path"]).exists()
    # Nothing half-registered blocks a retry under the same name.
    upload(owner, ds["id"], "broken.png")


def test_truncated_jpeg_is_422(live_server: LiveServer, owner: httpx.Client, dataset: dict) -> None:
    data = image_bytes("JPEG", size=(64, 64))
    t = ticket(owner, dataset["id"], "cut.jpg").json()
    httpx.put(
        t["upload_url"], content=data[: len(data) // 2], headers={"Content-Type": "image/jpeg"}
    )
    assert register(owner, dataset["id"], "cut.jpg", t).status_code == 422


def test_register_without_upload_is_422(owner: httpx.Client, dataset: dict) -> None:
    t = ticket(owner, dataset["id"], "never.png").json()
    response = register(owner, dataset["id"], "never.png", t)
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["gcs_path"]


def test_register_refuses_keys_outside_the_dataset(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    other = new_dataset(owner)
    t = ticket(owner, other["id"], "elsewhere.png").json()
    httpx.put(t["upload_url"], content=image_bytes(), headers={"Content-Type": "image/png"})
    # A blob issued for another dataset, a traversal, a made-up key: all refused before any read.
    prefix = t["gcs_path"].rsplit("/", 2)[0]
    for path in (
        t["gcs_path"],
        t["gcs_path"].replace(other["id"], dataset["id"]) + "/../../../" + t["gcs_path"],
        f"{prefix}/../../../../signing.key",
        "signing.key",
        "../pictograph.db",
    ):
        response = register(owner, dataset["id"], "elsewhere.png", {**t, "gcs_path": path})
        assert response.status_code == 422, (path, response.text)
    assert blob_path(live_server, t["gcs_path"]).exists()
    assert (live_server.data_dir / "signing.key").exists()


def test_register_requires_form_or_json(owner: httpx.Client, dataset: dict) -> None:
    assert (
        owner.post(
            "/images/register", content=b"x", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    missing = owner.post("/images/register", data={"dataset_id": dataset["id"]})
    assert missing.status_code == 422


def test_register_rejects_bad_display_name(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    t = ticket(owner, dataset["id"], "dn.png").json()
    httpx.put(t["upload_url"], content=image_bytes(), headers={"Content-Type": "image/png"})
    assert register(owner, dataset["id"], "dn.png", t, display_name="a\x00b").status_code == 422
    response = register(owner, dataset["id"], "dn.png", t, display_name="Nice name")
    assert response.status_code == 201 and response.json()["image"]["display_name"] == "Nice name"


def test_register_accepts_json_too(owner: httpx.Client, dataset: dict) -> None:
    t = ticket(owner, dataset["id"], "json.png").json()
    httpx.put(t["upload_url"], content=image_bytes(), headers={"Content-Type": "image/png"})
    body = {
        "dataset_id": dataset["id"],
        "filename": "json.png",
        "gcs_path": t["gcs_path"],
        "folder_path": "/",
    }
    response = owner.post("/images/register", json=body)
    assert response.status_code == 201, response.text


# ───────────── signed URLs ─────────────


def test_forged_tampered_and_expired_signatures_are_403(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    t = ticket(owner, dataset["id"], "signed.png").json()
    url = urlsplit(t["upload_url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    base = f"{url.scheme}://{url.netloc}{url.path}"
    headers = {"Content-Type": "image/png"}

    forged = {**query, "signature": "0" * 64}
    assert (
        httpx.put(f"{base}?{urlencode(forged)}", content=b"x", headers=headers).status_code == 403
    )
    later = {**query, "expires": str(int(query["expires"]) + 3600)}
    assert httpx.put(f"{base}?{urlencode(later)}", content=b"x", headers=headers).status_code == 403
    other_key = base.replace("signed.png", "evil.png")
    assert (
        httpx.put(f"{other_key}?{urlencode(query)}", content=b"x", headers=headers).status_code
        == 403
    )
    as_get = httpx.get(
        f"{base}?{urlencode({k: v for k, v in query.items() if k != 'content_type'})}"
    )
    assert as_get.status_code == 403, "a PUT signature does not authorise a GET"
    assert httpx.put(base, content=b"x", headers=headers).status_code == 403

    # A genuine signature that has run out.
    signer = security.UrlSigner((live_server.data_dir / "signing.key").read_bytes())
    expired = signer.sign("PUT", t["gcs_path"], -10, "image/png")
    assert (
        httpx.put(f"{base}?{urlencode(expired)}", content=b"x", headers=headers).status_code == 403
    )
    assert not blob_path(live_server, t["gcs_path"]).exists()


def test_download_blob_url_works_without_api_key(owner: httpx.Client, dataset: dict) -> None:
    image = upload(owner, dataset["id"], f"dl-{uuid.uuid4().hex[:6]}.png")
    items = owner.get(f"/datasets/by-name/{dataset['name']}/download").json()["items"]
    item = next(i for i in items if i["filename"] == image["filename"])
    response = httpx.get(item["image_url"])
    assert (
        response.status_code == 200
        and response.content == owner.get(f"/images/{image['id']}").content
    )


# ───────────── size limit ─────────────


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("small-limit")
    server = start_server(data_dir, None, "sqlite", PICTOGRAPH_MAX_UPLOAD_BYTES="1000")
    yield server
    server.stop()


def test_over_size_upload_is_413(small_server: LiveServer) -> None:
    with developer_http(small_server, small_server.api_key) as client:
        ds = new_dataset(client)
        t = ticket(client, ds["id"], "big.bmp").json()
        big = image_bytes("BMP", size=(64, 64))
        assert len(big) > 1000
        put = httpx.put(t["upload_url"], content=big, headers={"Content-Type": "image/bmp"})
        assert put.status_code == 413
        # Chunked, with no Content-Length to refuse up front: cut off while streaming.
        chunks = (big[i : i + 256] for i in range(0, len(big), 256))
        assert (
            httpx.put(
                t["upload_url"], content=chunks, headers={"Content-Type": "image/bmp"}
            ).status_code
            == 413
        )
        assert not blob_path(small_server, t["gcs_path"]).exists()

        # A blob that got there anyway (written behind the server's back) is refused at register.
        path = blob_path(small_server, t["gcs_path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(big)
        response = register(client, ds["id"], "big.bmp", t)
        assert response.status_code == 413, response.text
        assert not path.exists() and count_rows(small_server, ds["id"]) == 0

        # Under the limit is fine.
        small = upload(client, ds["id"], "small.png", data=image_bytes(size=(4, 4)))
        assert small["file_size"] < 1000


def test_register_413_on_default_limit_with_sparse_blob(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    t = ticket(owner, dataset["id"], "huge.png").json()
    path = blob_path(live_server, t["gcs_path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)  # sparse: costs no disk
    response = register(owner, dataset["id"], "huge.png", t)
    assert response.status_code == 413
    assert not os.path.exists(path)


# ───────────── delete ─────────────


def test_soft_delete_archives_and_frees_the_name(
    live_server: LiveServer, owner: httpx.Client
) -> None:
    ds = new_dataset(owner)
    image = upload(owner, ds["id"], "gone.png")
    response = owner.delete(f"/images/{image['id']}")
    assert response.status_code == 200 and response.json()["permanent"] is False
    meta = owner.get(f"/images/{image['id']}/metadata").json()["image"]
    assert meta["is_archived"] is True and meta["archived_at"]
    got = owner.get(f"/datasets/by-name/{ds['name']}").json()["dataset"]
    assert (got["image_count"], got["archived_images"]) == (0, 1)
    # Archiving twice is harmless; the name is free for a new upload.
    assert owner.delete(f"/images/{image['id']}").status_code == 200
    fresh = upload(owner, ds["id"], "gone.png")
    assert fresh["id"] != image["id"]
    assert owner.get(f"/images/{image['id']}").status_code == 200, "archived bytes are kept"


def test_permanent_delete_frees_the_bytes(live_server: LiveServer, owner: httpx.Client) -> None:
    ds = new_dataset(owner)
    t = ticket(owner, ds["id"], "bye.png").json()
    httpx.put(t["upload_url"], content=image_bytes(), headers={"Content-Type": "image/png"})
    image = register(owner, ds["id"], "bye.png", t).json()["image"]
    assert blob_path(live_server, t["gcs_path"]).exists()
    response = owner.delete(f"/images/{image['id']}", params={"permanent": "true"})
    assert response.status_code == 200 and response.json()["permanent"] is True
    assert owner.get(f"/images/{image['id']}/metadata").status_code == 404
    assert owner.get(f"/images/{image['id']}").status_code == 404
    assert not blob_path(live_server, t["gcs_path"]).exists()
    assert owner.delete(f"/images/{image['id']}").status_code == 404


# ───────────── roles and organizations ─────────────


def test_roles(live_server: LiveServer, owner: httpx.Client, dataset: dict) -> None:
    image = upload(owner, dataset["id"], f"r-{uuid.uuid4().hex[:6]}.png")
    with developer_http(live_server, add_key(live_server, "viewer")) as viewer:
        assert viewer.get(f"/images/{image['id']}/metadata").status_code == 200
        assert viewer.get(f"/images/{image['id']}").status_code == 200
        assert ticket(viewer, dataset["id"], "v.png").status_code == 403
        assert viewer.delete(f"/images/{image['id']}").status_code == 403
        assert (
            viewer.delete(f"/images/{image['id']}", params={"permanent": "true"}).status_code == 403
        )
    with developer_http(live_server, add_key(live_server, "member")) as member:
        mine = upload(member, dataset["id"], f"m-{uuid.uuid4().hex[:6]}.png")
        assert (
            member.delete(f"/images/{mine['id']}", params={"permanent": "true"}).status_code == 200
        )
    with developer_http(live_server, None) as anonymous:
        assert anonymous.get(f"/images/{image['id']}/metadata").status_code == 401
        assert ticket(anonymous, dataset["id"], "x.png").status_code == 401


def test_other_organization_sees_404(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    image = upload(owner, dataset["id"], f"o-{uuid.uuid4().hex[:6]}.png")
    t = ticket(owner, dataset["id"], "theirs.png").json()
    httpx.put(t["upload_url"], content=image_bytes(), headers={"Content-Type": "image/png"})
    with developer_http(live_server, add_key(live_server, "owner", new_org=True)) as other:
        assert other.get(f"/images/{image['id']}/metadata").status_code == 404
        assert other.get(f"/images/{image['id']}").status_code == 404
        assert (
            other.delete(f"/images/{image['id']}", params={"permanent": "true"}).status_code == 404
        )
        assert ticket(other, dataset["id"], "x.png").status_code == 404
        # Registering our blob into their own dataset is refused: the key is not theirs.
        theirs = new_dataset(other)
        assert register(other, dataset["id"], "theirs.png", t).status_code == 404
        assert register(other, theirs["id"], "theirs.png", t).status_code == 422
    assert owner.get(f"/images/{image['id']}").status_code == 200
    assert blob_path(live_server, t["gcs_path"]).exists()


def test_unknown_ids_are_404(owner: httpx.Client) -> None:
    assert owner.get("/images/a%00b/metadata").status_code == 404
    assert ticket(owner, "a\x00b", "a.png").status_code == 404
    missing = str(uuid.uuid4())
    assert owner.get(f"/images/{missing}/metadata").status_code == 404
    assert owner.get(f"/images/{missing}").status_code == 404
    assert owner.delete(f"/images/{missing}").status_code == 404
    assert ticket(owner, missing, "a.png").status_code == 404
