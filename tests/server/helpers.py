"""What the HTTP tests of the server share: clients for the live server, keys, images, datasets.

Every test module talks to the same live server per backend, so names made here are unique.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from PIL import Image as PILImage
from sqlalchemy import select

from pictograph.server import security
from pictograph.server.db.engine import Database
from pictograph.server.db.tables import ApiKey, Organization
from tests.live_server import LiveServer

API = "/api/v1/developer"
KEYS = "/api/v1/api-keys/"
ME = "/api/v1/developer/organizations/me"
ROLES = ("viewer", "member", "admin", "owner")


# ───────────── clients ─────────────


def http(
    server: LiveServer, key: str | None, *, base_path: str = "", **headers: str
) -> httpx.Client:
    """A client for ``server`` (under ``base_path``), sending ``key`` as X-API-Key when given."""
    if key:
        headers["X-API-Key"] = key
    return httpx.Client(base_url=server.base_url + base_path, headers=headers, timeout=30)


def developer_http(server: LiveServer, key: str | None) -> httpx.Client:
    """A client whose paths are relative to the developer API (``/projects/``, ``/images/…``)."""
    return http(server, key, base_path=API)


def parse_time(value: str) -> datetime:
    """An ISO timestamp from a response, which must carry its timezone."""
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, f"{value} has no timezone"
    return moment


# ───────────── keys and organizations ─────────────


def database(server: LiveServer) -> Database:
    """The live server's own database, for arranging what the API cannot (close with dispose())."""
    return Database(server.database_url or f"sqlite:///{server.data_dir / 'pictograph.db'}")


def add_key(
    server: LiveServer,
    role: str,
    *,
    new_org: bool = False,
    org_fields: Mapping[str, Any] | None = None,
    rate_limit: int = 100_000,
) -> str:
    """A key of ``role`` in the bootstrap organization, or in a new one (with ``org_fields``),
    written straight into the database; returns the raw key."""
    raw = f"pk_live_t_{role}_{uuid.uuid4().hex}"
    db = database(server)
    try:
        with db.session() as session:
            if new_org:
                org = Organization(
                    name="Other", slug=f"other-{uuid.uuid4().hex[:8]}", **(org_fields or {})
                )
                session.add(org)
                session.flush()
                org_id = org.id
            else:
                org_id = session.scalar(
                    select(ApiKey.organization_id).where(
                        ApiKey.key_prefix == security.key_prefix(server.api_key)
                    )
                )
            session.add(
                ApiKey(
                    organization_id=org_id,
                    name=f"test {role}",
                    role=role,
                    rate_limit=rate_limit,
                    key_prefix=security.key_prefix(raw),
                    key_hash=security.hash_api_key(raw, 4),
                )
            )
    finally:
        db.dispose()
    return raw


def create_key(
    client: httpx.Client, org_id: str, role: str = "member", **extra: Any
) -> httpx.Response:
    """POST a new key of ``role`` through the API (a unique name unless ``name`` is given)."""
    body = {
        "organization_id": org_id,
        "name": extra.pop("name", f"{role}-{uuid.uuid4().hex[:6]}"),
        "role": role,
    }
    return client.post(KEYS, json={**body, **extra})


def new_key(
    client: httpx.Client, org_id: str, role: str = "member", **extra: Any
) -> dict[str, Any]:
    """``create_key`` that must succeed; returns the created key, full key included."""
    response = create_key(client, org_id, role, **extra)
    assert response.status_code == 201, response.text
    return response.json()


# ───────────── datasets and images ─────────────


def dataset_name() -> str:
    return f"ds-{uuid.uuid4().hex[:10]}"


def new_dataset(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    """A fresh dataset (``client`` on the developer API); ``extra`` goes into the create body."""
    response = client.post("/projects/", json={"name": dataset_name(), **extra})
    assert response.status_code == 201, response.text
    return response.json()["project"]


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (32, 32), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(
    client: httpx.Client,
    dataset_id: str,
    filename: str | None = None,
    folder: str = "/",
    *,
    color: str = "red",
) -> dict[str, Any]:
    """A solid ``color`` PNG through all three upload steps; returns the registered image."""
    filename = filename or f"{uuid.uuid4().hex[:8]}.png"
    t = client.post(
        "/images/upload-url",
        json={"dataset_id": dataset_id, "filename": filename, "folder_path": folder},
    ).json()
    put = httpx.put(
        t["upload_url"], content=image_bytes(color=color), headers={"Content-Type": "image/png"}
    )
    assert put.status_code == 200, put.text
    form = {"dataset_id": dataset_id, "filename": filename, "gcs_bucket": "local", "gcs_path": t["gcs_path"],
            "gcs_uri": t["gcs_uri"], "folder_path": folder}  # fmt: skip
    response = client.post("/images/register", data=form)
    assert response.status_code == 201, response.text
    return response.json()["image"]


# ───────────── responses ─────────────


def assert_envelope(response: httpx.Response, status: int, error_code: str) -> dict[str, Any]:
    """The one JSON error shape every failure uses: a non-empty ``detail`` and the ``error_code``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["error_code"] == error_code
    return body
