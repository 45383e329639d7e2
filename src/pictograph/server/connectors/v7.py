"""V7 Darwin: list a team's datasets, export one as Darwin JSON 2.0, fetch its item files.

The calls, as V7's public API documents them (base ``https://darwin.v7labs.com/api``, header
``Authorization: ApiKey <key>``):

=====================================================================  ==========================
``GET  /users/token_info``                                            the key's team (``selected_team.slug``)
``GET  /datasets``                                                    the team's datasets (``id``, ``name``,
                                                                      ``slug``, ``num_images`` / ``num_items``)
``POST /v2/teams/{team}/datasets/{dataset}/exports``                  start an export: ``{"name", "format":
                                                                      "darwin_json_2", …}``
``GET  /v2/teams/{team}/datasets/{dataset}/exports``                  the dataset's exports: ``name``,
                                                                      ``status``, ``download_url`` (a ZIP of
                                                                      one Darwin JSON 2.0 file per item)
``GET  <item.slots[0].source_files[0].url>``                          an item's original file
=====================================================================  ==========================

The export ZIP holds no images: each item's JSON names its file's URL. URLs on the API host
are fetched with the API key; any other (presigned storage URLs) without it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pictograph.server.connectors import (
    MAX_POLL_SECONDS,
    HttpRemote,
    Listing,
    RemoteDatasetInfo,
    RemoteError,
    RemoteNotFound,
)

EXPORT_FORMAT = "darwin_json_2"
# Every workflow stage but archived: an import wants the whole dataset, not only finished items.
EXPORT_STATUSES = ["new", "annotate", "review", "complete"]


@dataclass
class V7Item:
    """One item of an export: where its image goes and where to fetch it from."""

    json_path: Path
    name: str
    folder: str
    url: str | None
    reason: str | None = None
    """Why there is nothing to fetch (a video, no file URL)."""


class V7Client(HttpRemote):
    provider = "v7"

    def __init__(self, api_key: str, *, base_url: str, **options: Any) -> None:
        super().__init__(base_url, headers={"Authorization": f"ApiKey {api_key}"}, **options)
        self._team: str | None = None

    def team_slug(self) -> str:
        if self._team is None:
            info = self.request("GET", "/users/token_info")
            team = info.get("selected_team") if isinstance(info, dict) else None
            slug = team.get("slug") if isinstance(team, dict) else None
            if not isinstance(slug, str) or not slug:
                raise RemoteError("V7 did not say which team the API key belongs to")
            self._team = slug
        return self._team

    def list_datasets(self) -> Listing:
        team = self.team_slug()
        body = self.request("GET", "/datasets")
        if isinstance(body, dict):  # some deployments wrap the list
            body = body.get("datasets", [])
        if not isinstance(body, list):
            raise RemoteError("V7 answered the dataset list with something that is not a list")
        datasets = []
        for entry in body:
            if not isinstance(entry, dict) or entry.get("slug") in (None, ""):
                continue
            count = entry.get("num_items")
            if not isinstance(count, int):
                count = int(entry.get("num_images") or 0) + int(entry.get("num_videos") or 0)
            datasets.append(
                RemoteDatasetInfo(
                    id=str(entry.get("id", entry["slug"])),
                    name=str(entry.get("name") or entry["slug"]),
                    slug=str(entry["slug"]),
                    image_count=max(0, int(count)),
                )
            )
        return Listing(workspace=team, datasets=datasets)

    def _exports_path(self, dataset_slug: str) -> str:
        return f"/v2/teams/{self.team_slug()}/datasets/{dataset_slug}/exports"

    def start_export(self, dataset_slug: str, name: str) -> None:
        self.request(
            "POST",
            self._exports_path(dataset_slug),
            json={
                "name": name,
                "format": EXPORT_FORMAT,
                "include_authorship": False,
                "include_export_token": False,
                "filters": {"statuses": EXPORT_STATUSES},
            },
        )

    def export_status(self, dataset_slug: str, name: str) -> dict[str, Any] | None:
        body = self.request("GET", self._exports_path(dataset_slug))
        if isinstance(body, dict):
            body = body.get("exports", [])
        for entry in body if isinstance(body, list) else []:
            if isinstance(entry, dict) and entry.get("name") == name:
                return entry
        return None

    def wait_for_export(
        self,
        dataset_slug: str,
        name: str,
        *,
        poll_seconds: float,
        timeout: float,
        heartbeat: Callable[[], None],
    ) -> str:
        """The export's download URL once V7 has built it."""
        deadline = time.monotonic() + timeout
        delay = poll_seconds
        while True:
            heartbeat()
            entry = self.export_status(dataset_slug, name)
            if entry is None:
                raise RemoteNotFound(f"V7 export {name!r} of {dataset_slug!r} disappeared")
            status = str(entry.get("status") or "").lower()
            url = entry.get("download_url")
            if status in ("failed", "error"):
                raise RemoteError(f"V7 could not build export {name!r}: {entry.get('error') or status}")
            if isinstance(url, str) and url and status in ("", "complete", "completed", "ready"):
                return url
            if time.monotonic() >= deadline:
                raise RemoteError(f"V7 export {name!r} was not ready within {timeout:.0f} s")
            self._sleep(delay)
            delay = min(delay * 2, MAX_POLL_SECONDS)

    def items(self, annotations_root: Path) -> Iterator[V7Item]:
        """The items of an extracted export, each with its image URL (or why there is none)."""
        for path in sorted(annotations_root.rglob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # the reader reports the malformed file with its name
            item = data.get("item") if isinstance(data, dict) else None
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            raw_folder = item.get("path")
            folder = "/" + (raw_folder if isinstance(raw_folder, str) else "/").replace("\\", "/").strip("/")
            slots = item.get("slots") if isinstance(item.get("slots"), list) else []
            slot = slots[0] if slots and isinstance(slots[0], dict) else {}
            files = slot.get("source_files") if isinstance(slot.get("source_files"), list) else []
            source = files[0] if files and isinstance(files[0], dict) else {}
            url = source.get("url")
            kind = slot.get("type")
            reason = None
            if kind not in (None, "image"):
                reason = f"v7 {kind} item"
                url = None
            elif not isinstance(url, str) or not url:
                reason = "v7 item without a file URL"
                url = None
            yield V7Item(path, item["name"], folder, url, reason)

    @staticmethod
    def image_path(images_root: Path, item: V7Item) -> Path | None:
        """Where the reader looks for the item's image: ``images/<path>/<name>``; None if unsafe."""
        parts = [p for p in PurePosixPath(item.folder.strip("/")).parts if p not in ("", ".")]
        if ".." in parts or "/" in item.name or "\\" in item.name or item.name in ("", ".", ".."):
            return None
        return images_root.joinpath(*parts, item.name)
