"""Small loopback servers that speak the V7 Darwin and Roboflow endpoints the connectors call.

One API server carries both platforms under path prefixes (``/v7/api`` and ``/roboflow``),
so the server under test gets ``PICTOGRAPH_V7_BASE_URL`` / ``PICTOGRAPH_ROBOFLOW_BASE_URL``
pointing here. A second server plays the storage host that export links (presigned URLs)
point at: it refuses any request carrying credentials, so a key that leaks there fails the
test. Everything is in memory; ``requests`` records each call for assertions.

V7: ``GET /users/token_info``, ``GET /datasets``, ``POST|GET /v2/teams/{team}/datasets/{slug}/exports``
(an export is ``pending`` for ``export_polls`` polls, then ``complete`` with a ``download_url``
to a ZIP of Darwin JSON 2.0 files), and item files at ``/v2/teams/{team}/files/{id}/content``
(``ApiKey`` auth, optionally slowed by ``image_delay``).

Roboflow: ``GET /?api_key``, ``GET /{workspace}``, ``GET /{workspace}/{project}``,
``GET /{workspace}/{project}/{version}/coco`` (no link for ``export_polls`` calls, then
``export.link`` to a COCO ZIP with ``train/`` and ``valid/`` splits).
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from PIL import Image

from tests.live_server import LiveServer

V7_KEY = "v7-test-key-0123456789"
ROBOFLOW_KEY = "rf-test-key-0123456789"
V7_TEAM = "acme-team"
ROBOFLOW_WORKSPACE = "acme-ws"


def png(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class V7Item:
    name: str
    path: str = "/"
    annotations: list[dict[str, Any]] = field(default_factory=list)
    size: tuple[int, int] = (64, 48)
    color: tuple[int, int, int] = (200, 40, 40)
    kind: str = "image"
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def data(self) -> bytes:
        return png(self.size, self.color)


@dataclass
class V7Dataset:
    id: int
    name: str
    slug: str
    items: list[V7Item]


@dataclass
class RoboflowImage:
    file_name: str
    split: str
    annotations: list[dict[str, Any]] = field(default_factory=list)
    """COCO annotations without ids / image_id (filled in when the export is built)."""
    size: tuple[int, int] = (64, 48)
    color: tuple[int, int, int] = (40, 200, 40)


@dataclass
class RoboflowProject:
    slug: str
    name: str
    categories: list[str]
    images: list[RoboflowImage]
    versions: tuple[int, ...] = (1, 2)


def default_v7_datasets() -> list[V7Dataset]:
    """'Road damage': polygons (one with a hole), a box, a line, a keypoint, and a tag and an
    ellipse that must be skipped; one item in a subfolder, one video item."""
    square = [{"x": 10, "y": 10}, {"x": 40, "y": 10}, {"x": 40, "y": 40}, {"x": 10, "y": 40}]
    hole = [{"x": 20, "y": 20}, {"x": 30, "y": 20}, {"x": 30, "y": 30}]
    items = [
        V7Item("a.png", "/", [
            {"id": "a1", "name": "crack", "polygon": {"paths": [square, hole]},
             "bounding_box": {"x": 10, "y": 10, "w": 30, "h": 30}, "slot_names": ["0"]},
            {"id": "a2", "name": "car", "bounding_box": {"x": 1, "y": 2, "w": 20, "h": 10}, "slot_names": ["0"]},
            {"id": "a3", "name": "wet", "tag": {}, "slot_names": ["0"]},
        ]),
        V7Item("b.png", "/night", [
            {"id": "b1", "name": "lane", "line": {"path": [{"x": 0, "y": 0}, {"x": 30, "y": 20}]}, "slot_names": ["0"]},
            {"id": "b2", "name": "light", "keypoint": {"x": 5, "y": 6}, "slot_names": ["0"]},
            {"id": "b3", "name": "pothole", "ellipse": {"center": {"x": 5, "y": 5}, "radius": {"x": 2, "y": 3}, "angle": 0},
             "bounding_box": {"x": 3, "y": 2, "w": 4, "h": 6}, "slot_names": ["0"]},
        ], color=(10, 10, 200)),
        V7Item("c.png", "/", [], color=(0, 120, 0)),
        V7Item("clip.mp4", "/", [], kind="video"),
    ]
    other = [V7Item(f"o{i}.png", "/", [], color=(i * 20, 0, 0)) for i in range(3)]
    return [
        V7Dataset(101, "Road damage", "road-damage", items),
        V7Dataset(102, "Other set", "other-set", other),
    ]


def default_roboflow_projects() -> list[RoboflowProject]:
    return [
        RoboflowProject(
            "potholes",
            "Potholes",
            ["pothole", "manhole"],
            [
                RoboflowImage("p1.jpg", "train", [
                    {"category": "pothole", "bbox": [4, 5, 20, 10]},
                    {"category": "manhole", "bbox": [30, 20, 10, 10],
                     "segmentation": [[30, 20, 40, 20, 40, 30, 30, 30]]},
                ]),
                RoboflowImage("p2.jpg", "train", [{"category": "pothole", "bbox": [1, 1, 5, 5]}], color=(9, 9, 9)),
                RoboflowImage("p3.jpg", "valid", [{"category": "manhole", "bbox": [2, 2, 8, 8]}], color=(90, 9, 9)),
            ],
        ),
    ]


class FakeRemotes:
    def __init__(self) -> None:
        self.v7_datasets = default_v7_datasets()
        self.roboflow_projects = default_roboflow_projects()
        self.export_polls = 1
        """Polls during which an export is still being built."""
        self.image_delay = 0.0
        """Seconds each V7 item file takes to serve (to catch an import mid-way)."""
        self.fail_images: set[str] = set()
        """V7 item names whose file download answers 500."""
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.exports: dict[tuple[str, str], dict[str, Any]] = {}
        self.roboflow_export_calls: dict[str, int] = {}
        self.blobs: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self._api = _serve(self, _ApiHandler)
        self._storage = _serve(self, _StorageHandler)

    # ---- addresses --------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._api.server_address[1]}"

    @property
    def v7_url(self) -> str:
        return f"{self.api_url}/v7/api"

    @property
    def roboflow_url(self) -> str:
        return f"{self.api_url}/roboflow"

    @property
    def storage_url(self) -> str:
        return f"http://127.0.0.1:{self._storage.server_address[1]}"

    def env(self) -> dict[str, str]:
        return {"PICTOGRAPH_V7_BASE_URL": self.v7_url, "PICTOGRAPH_ROBOFLOW_BASE_URL": self.roboflow_url}

    def close(self) -> None:
        for server in (self._api, self._storage):
            server.shutdown()
            server.server_close()

    def calls(self, fragment: str) -> list[tuple[str, str, dict[str, str]]]:
        with self.lock:
            return [r for r in self.requests if fragment in r[1]]

    def store(self, data: bytes) -> str:
        token = uuid.uuid4().hex
        with self.lock:
            self.blobs[token] = data
        return f"{self.storage_url}/blobs/{token}.zip"

    # ---- V7 -----------------------------------------------------------------------------

    def v7_dataset(self, slug: str) -> V7Dataset | None:
        return next((d for d in self.v7_datasets if d.slug == slug), None)

    def v7_item_json(self, dataset: V7Dataset, item: V7Item) -> dict[str, Any]:
        width, height = item.size
        url = f"{self.v7_url}/v2/teams/{V7_TEAM}/files/{item.id}/content"
        return {
            "version": "2.0",
            "schema_ref": "https://darwin-public.s3.eu-west-1.amazonaws.com/darwin_json/2.0/schema.json",
            "item": {
                "name": item.name,
                "path": item.path,
                "source_info": {
                    "item_id": item.id,
                    "dataset": {"name": dataset.name, "slug": dataset.slug},
                    "team": {"name": "Acme", "slug": V7_TEAM},
                },
                "slots": [
                    {
                        "type": item.kind,
                        "slot_name": "0",
                        "width": width,
                        "height": height,
                        "source_files": [{"file_name": item.name, "url": url}],
                    }
                ],
            },
            "annotations": item.annotations,
        }

    def v7_export_zip(self, dataset: V7Dataset) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for item in dataset.items:
                stem = item.name.rsplit(".", 1)[0]
                folder = item.path.strip("/")
                name = f"{folder}/{stem}.json" if folder else f"{stem}.json"
                archive.writestr(name, json.dumps(self.v7_item_json(dataset, item)))
        return buffer.getvalue()

    # ---- Roboflow -------------------------------------------------------------------------

    def roboflow_project(self, slug: str) -> RoboflowProject | None:
        return next((p for p in self.roboflow_projects if p.slug == slug), None)

    def roboflow_zip(self, project: RoboflowProject) -> bytes:
        buffer = io.BytesIO()
        categories = [{"id": i + 1, "name": n, "supercategory": "objects"} for i, n in enumerate(project.categories)]
        ids = {c["name"]: c["id"] for c in categories}
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("README.roboflow.txt", "Exported from the fake Roboflow\n")
            for split in sorted({image.split for image in project.images}):
                images: list[dict[str, Any]] = []
                annotations: list[dict[str, Any]] = []
                for index, image in enumerate(i for i in project.images if i.split == split):
                    width, height = image.size
                    images.append({"id": index, "file_name": image.file_name, "width": width, "height": height})
                    buffer_image = io.BytesIO()
                    Image.new("RGB", image.size, image.color).save(buffer_image, format="JPEG")
                    archive.writestr(f"{split}/{image.file_name}", buffer_image.getvalue())
                    for annotation in image.annotations:
                        _x, _y, w, h = annotation["bbox"]
                        annotations.append({
                            "id": len(annotations), "image_id": index, "category_id": ids[annotation["category"]],
                            "bbox": annotation["bbox"], "area": w * h, "iscrowd": 0,
                            "segmentation": annotation.get("segmentation", []),
                        })
                document = {"info": {}, "licenses": [], "categories": categories, "images": images, "annotations": annotations}
                archive.writestr(f"{split}/_annotations.coco.json", json.dumps(document))
        return buffer.getvalue()


def _serve(remotes: FakeRemotes, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.remotes = remotes  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def remotes(self) -> FakeRemotes:
        return self.server.remotes  # type: ignore[attr-defined]

    def _record(self) -> None:
        with self.remotes.lock:
            self.remotes.requests.append((self.command, self.path, dict(self.headers)))

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _bytes(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None


class _StorageHandler(_Handler):
    def do_GET(self) -> None:
        self._record()
        if "authorization" in {k.lower() for k in self.headers} or "api_key" in self.path:
            self._json(400, {"error": "storage URLs are presigned: no credentials expected"})
            return
        token = self.path.rsplit("/", 1)[-1].removesuffix(".zip")
        data = self.remotes.blobs.get(token)
        if data is None:
            self._json(404, {"error": "NoSuchKey"})
            return
        self._bytes(data, "application/zip")


class _ApiHandler(_Handler):
    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self._record()
        url = urlparse(self.path)
        if url.path.startswith("/v7/api/"):
            self._v7(url.path[len("/v7/api"):])
        elif url.path.startswith("/roboflow"):
            params = parse_qs(url.query)
            self._roboflow(url.path[len("/roboflow"):] or "/", (params.get("api_key") or [""])[0])
        else:
            self._json(404, {"error": "unknown path"})

    # ---- V7 -------------------------------------------------------------------------------

    def _v7(self, path: str) -> None:
        remotes = self.remotes
        if self.headers.get("Authorization") != f"ApiKey {V7_KEY}":
            self._json(401, {"errors": {"code": "UNAUTHORIZED", "message": "Invalid API key"}})
            return
        parts = [p for p in path.split("/") if p]
        if parts == ["users", "token_info"]:
            self._json(200, {"selected_team": {"id": 7, "name": "Acme", "slug": V7_TEAM}, "user": {"id": 1}})
            return
        if parts == ["datasets"]:
            self._json(200, [
                {"id": d.id, "name": d.name, "slug": d.slug, "num_images": sum(1 for i in d.items if i.kind == "image"),
                 "num_videos": sum(1 for i in d.items if i.kind == "video"), "progress": 0.5}
                for d in remotes.v7_datasets
            ])
            return
        if len(parts) == 6 and parts[:2] == ["v2", "teams"] and parts[3] == "files" and parts[5] == "content":
            item = next((i for d in remotes.v7_datasets for i in d.items if i.id == parts[4]), None)
            if item is None:
                self._json(404, {"errors": {"message": "not found"}})
                return
            if remotes.image_delay:
                time.sleep(remotes.image_delay)
            if item.name in remotes.fail_images:
                self._json(500, {"errors": {"message": "storage hiccup"}})
                return
            self._bytes(item.data, "image/png")
            return
        if len(parts) == 6 and parts[:2] == ["v2", "teams"] and parts[3] == "datasets" and parts[5] == "exports":
            dataset = remotes.v7_dataset(parts[4])
            if parts[2] != V7_TEAM or dataset is None:
                self._json(404, {"errors": {"message": "dataset not found"}})
                return
            if self.command == "POST":
                body = self._body() or {}
                with remotes.lock:
                    remotes.exports[(dataset.slug, body["name"])] = {
                        "name": body["name"], "format": body.get("format"), "status": "pending",
                        "download_url": None, "polls": 0, "version": "2.0", "latest": True,
                    }
                self._json(200, {})
                return
            listing = []
            with remotes.lock:
                for (slug, _name), export in remotes.exports.items():
                    if slug != dataset.slug:
                        continue
                    if export["status"] == "pending":
                        export["polls"] += 1
                        if export["polls"] > remotes.export_polls:
                            export["status"] = "complete"
                            export["download_url"] = "pending"
                    listing.append(export)
            for export in listing:
                if export["download_url"] == "pending":
                    export["download_url"] = remotes.store(remotes.v7_export_zip(dataset))
            self._json(200, [{k: v for k, v in e.items() if k != "polls"} for e in listing])
            return
        self._json(404, {"errors": {"message": f"no route {path}"}})

    # ---- Roboflow ---------------------------------------------------------------------------

    def _roboflow(self, path: str, api_key: str) -> None:
        remotes = self.remotes
        if api_key != ROBOFLOW_KEY:
            self._json(401, {"error": {"message": "This API key does not exist (or has been revoked).",
                                       "type": "OAuthException", "hint": "You may retrieve your API key via the Roboflow Dashboard."}})
            return
        parts = [p for p in path.split("/") if p]
        if not parts:
            self._json(200, {"welcome": "Welcome to the Roboflow API.", "workspace": ROBOFLOW_WORKSPACE})
            return
        if parts[0] != ROBOFLOW_WORKSPACE:
            self._json(404, {"error": {"message": "Workspace not found"}})
            return
        if len(parts) == 1:
            self._json(200, {"workspace": {
                "name": "Acme", "url": ROBOFLOW_WORKSPACE,
                "projects": [
                    {"id": f"{ROBOFLOW_WORKSPACE}/{p.slug}", "name": p.name, "type": "object-detection",
                     "images": len(p.images), "versions": len(p.versions), "annotation": p.slug,
                     "classes": {c: 1 for c in p.categories}}
                    for p in remotes.roboflow_projects
                ],
            }})
            return
        project = remotes.roboflow_project(parts[1])
        if project is None:
            self._json(404, {"error": {"message": "Project not found"}})
            return
        if len(parts) == 2:
            self._json(200, {
                "workspace": {"name": "Acme", "url": ROBOFLOW_WORKSPACE},
                "project": {"id": f"{ROBOFLOW_WORKSPACE}/{project.slug}", "name": project.name},
                "versions": [{"id": f"{ROBOFLOW_WORKSPACE}/{project.slug}/{v}", "name": f"v{v}", "exports": []} for v in project.versions],
            })
            return
        if len(parts) == 4 and parts[3] == "coco" and parts[2].isdigit() and int(parts[2]) in project.versions:
            key = f"{project.slug}/{parts[2]}"
            with remotes.lock:
                calls = remotes.roboflow_export_calls.get(key, 0) + 1
                remotes.roboflow_export_calls[key] = calls
            if calls <= remotes.export_polls:
                self._json(200, {"progress": 0.5, "version": {"id": key, "generating": True}})
                return
            link = remotes.store(remotes.roboflow_zip(project))
            self._json(200, {"export": {"link": link, "format": "coco"}, "version": {"id": key}})
            return
        self._json(404, {"error": {"message": f"no route {path}"}})


@contextmanager
def fakes_and_server(backend: str, data_dir: Path, **env: str) -> Iterator[tuple[FakeRemotes, LiveServer]]:
    """Fresh fake remotes and a server whose connector base URLs point at them."""
    from tests.live_server import running_server

    fakes = FakeRemotes()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with running_server(backend, data_dir, **fakes.env(), **env) as server:
            yield fakes, server
    finally:
        fakes.close()
