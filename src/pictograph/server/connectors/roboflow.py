"""Roboflow: list a workspace's projects, export a version as COCO, download it.

The calls, as Roboflow's public REST API documents them (base ``https://api.roboflow.com``,
the key as the ``api_key`` query parameter):

==========================================  ================================================
``GET /``                                   the key's workspace (``workspace``)
``GET /{workspace}``                        ``workspace.projects``: ``id`` ("ws/project"),
                                            ``name``, ``images``, ``versions``
``GET /{workspace}/{project}``              ``versions``: ``id`` ("ws/project/3"), …
``GET /{workspace}/{project}/{version}/coco``  ``export.link`` once the export exists; asking
                                            starts it, so it is asked again until ready
``GET <export.link>``                       the ZIP: ``train/`` ``valid/`` ``test/``, each with
                                            ``_annotations.coco.json`` beside its images
==========================================  ================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pictograph.server.connectors import (
    MAX_POLL_SECONDS,
    HttpRemote,
    Listing,
    RemoteDatasetInfo,
    RemoteError,
    RemoteNotFound,
)

EXPORT_FORMAT = "coco"


class RoboflowClient(HttpRemote):
    provider = "roboflow"

    def __init__(self, api_key: str, *, base_url: str, **options: Any) -> None:
        super().__init__(base_url, params={"api_key": api_key}, **options)
        self._workspace: str | None = None

    def workspace(self) -> str:
        if self._workspace is None:
            body = self.request("GET", "/")
            slug = body.get("workspace") if isinstance(body, dict) else None
            if isinstance(slug, dict):
                slug = slug.get("url")
            if not isinstance(slug, str) or not slug:
                raise RemoteError("Roboflow did not say which workspace the API key belongs to")
            self._workspace = slug
        return self._workspace

    def list_datasets(self) -> Listing:
        workspace = self.workspace()
        body = self.request("GET", f"/{workspace}")
        info = body.get("workspace") if isinstance(body, dict) else None
        projects = info.get("projects") if isinstance(info, dict) else None
        if not isinstance(projects, list):
            raise RemoteError("Roboflow answered the workspace without a project list")
        datasets = []
        for entry in projects:
            if not isinstance(entry, dict) or not entry.get("id"):
                continue
            project_id = str(entry["id"])
            slug = project_id.rsplit("/", 1)[-1]
            versions = entry.get("versions")
            datasets.append(
                RemoteDatasetInfo(
                    id=project_id,
                    name=str(entry.get("name") or slug),
                    slug=slug,
                    image_count=max(0, int(entry.get("images") or 0)),
                    version=int(versions) if isinstance(versions, int) and versions > 0 else None,
                )
            )
        return Listing(workspace=workspace, datasets=datasets)

    def project_path(self, dataset_id: str, slug: str) -> str:
        """``workspace/project`` for a listed dataset (ids already carry the workspace)."""
        if "/" in dataset_id:
            return dataset_id.strip("/")
        return f"{self.workspace()}/{slug or dataset_id}"

    def latest_version(self, project_path: str) -> int:
        body = self.request("GET", f"/{project_path}")
        versions = body.get("versions") if isinstance(body, dict) else None
        numbers = []
        for entry in versions if isinstance(versions, list) else []:
            ident = str(entry.get("id", "")) if isinstance(entry, dict) else ""
            tail = ident.rsplit("/", 1)[-1]
            if tail.isdigit():
                numbers.append(int(tail))
        if not numbers:
            raise RemoteNotFound(
                f"Roboflow project {project_path!r} has no versions; generate one in Roboflow first"
            )
        return max(numbers)

    def export_link(
        self,
        project_path: str,
        version: int,
        *,
        poll_seconds: float,
        timeout: float,
        heartbeat: Callable[[], None],
    ) -> str:
        """The COCO export's download link, waiting while Roboflow generates it."""
        deadline = time.monotonic() + timeout
        delay = poll_seconds
        path = f"/{project_path}/{version}/{EXPORT_FORMAT}"
        while True:
            heartbeat()
            body = self.request("GET", path)
            export = body.get("export") if isinstance(body, dict) else None
            link = export.get("link") if isinstance(export, dict) else None
            if isinstance(link, str) and link:
                return link
            if time.monotonic() >= deadline:
                raise RemoteError(
                    f"Roboflow's COCO export of {project_path} v{version} was not ready within {timeout:.0f} s"
                )
            self._sleep(delay)
            delay = min(delay * 2, MAX_POLL_SECONDS)
