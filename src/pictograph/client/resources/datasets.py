"""``client.datasets``: list and fetch datasets by name, and download them in bulk."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from pictograph.client._pager import OffsetPager
from pictograph.client.resources import Resource, path_segment
from pictograph.exceptions import PictographError, ValidationError
from pictograph.models.dataset import DOWNLOAD_MODES, Dataset, DownloadMode

ProgressCallback = Callable[[int, int, "str | None"], None]
"""``progress(done, total, name)``: called once per file by bulk downloads and uploads."""

_PATH = "/api/v1/developer/datasets/"
_DOWNLOAD_PAGE = 10000
"""The download listing's per-call cap on the server."""


@dataclass(frozen=True)
class DownloadFailure:
    filename: str
    kind: Literal["image", "annotation"]
    reason: str


@dataclass
class DownloadReport:
    """What ``datasets.download`` wrote; per-file errors are listed in ``failures``, not raised."""

    dataset_name: str
    output_dir: Path
    dataset_id: str | None = None
    images_downloaded: int = 0
    annotations_downloaded: int = 0
    failures: list[DownloadFailure] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class _DownloadTask:
    kind: Literal["image", "annotation"]
    url: str
    destination: Path
    filename: str


class Datasets(Resource):
    def list(self, *, limit: int = 100, offset: int = 0) -> list[Dataset]:
        """One page of the organization's datasets (the server caps ``limit`` at 1000)."""
        body = self._transport.request("GET", _PATH, params={"limit": limit, "offset": offset})
        return self._parse_list(Dataset, body.get("datasets"))

    def iter(self, *, page_size: int = 100, max_total: int | None = None) -> OffsetPager[Dataset]:
        return OffsetPager(
            lambda offset, limit: self.list(limit=limit, offset=offset),
            page_size=page_size,
            max_total=max_total,
        )

    def get(
        self,
        name: str,
        *,
        include_images: bool = False,
        images_limit: int = 1000,
        images_offset: int = 0,
    ) -> Dataset:
        """A dataset by its (case-sensitive) name, optionally with one page of image summaries."""
        params: dict[str, Any] = {}
        if include_images:
            params = {
                "include_images": "true",
                "images_limit": images_limit,
                "images_offset": images_offset,
            }
        body = self._transport.request("GET", f"{_PATH}by-name/{path_segment(name)}", params=params)
        return self._parse(Dataset, body["dataset"])

    def get_by_id(self, dataset_id: str) -> Dataset:
        body = self._transport.request("GET", f"{_PATH}{path_segment(dataset_id)}")
        return self._parse(Dataset, body["dataset"])

    def download(
        self,
        name: str,
        output_dir: str | Path,
        *,
        mode: DownloadMode = "full",
        status_filter: str | None = None,
        max_workers: int = 10,
        progress: ProgressCallback | None = None,
    ) -> DownloadReport:
        """Download images and/or annotations into ``output_dir`` through a thread pool.

        One listing call returns signed URLs for the whole dataset; each file is then
        fetched in parallel. Images land at ``output_dir/<folder>/<filename>`` (the virtual
        folder mirrored on disk, so equal names in two folders do not collide) and their
        annotations beside them as ``<filename>.json``. Raises only for the listing call
        (unknown dataset, bad mode); per-file errors go to ``report.failures``.
        """
        if mode not in DOWNLOAD_MODES:
            raise ValidationError(
                f"mode must be one of {', '.join(DOWNLOAD_MODES)}, got {mode!r}",
                errors=[
                    {
                        "loc": ["mode"],
                        "msg": f"unknown download mode {mode!r}",
                        "type": "value_error",
                    }
                ],
            )
        out = Path(output_dir).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        items, dataset_id = self._download_listing(name, mode, status_filter)
        report = DownloadReport(dataset_name=name, output_dir=out, dataset_id=dataset_id)
        tasks = _download_tasks(items, mode, out)
        if not tasks:
            return report
        with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
            futures = {pool.submit(self._fetch, task): task for task in tasks}
            for done, future in enumerate(as_completed(futures), start=1):
                task = futures[future]
                error = future.exception()
                if error is None:
                    if task.kind == "image":
                        report.images_downloaded += 1
                    else:
                        report.annotations_downloaded += 1
                elif isinstance(error, (PictographError, OSError, ValueError)):
                    report.failures.append(DownloadFailure(task.filename, task.kind, str(error)))
                else:
                    raise error
                if progress is not None:
                    progress(done, len(tasks), task.filename)
        return report

    def _download_listing(
        self, name: str, mode: str, status_filter: str | None
    ) -> tuple[builtins.list[dict[str, Any]], str | None]:
        items: builtins.list[dict[str, Any]] = []
        dataset_id = None
        while True:
            body = self._transport.request(
                "GET",
                f"{_PATH}by-name/{path_segment(name)}/download",
                params={
                    "mode": mode,
                    "status_filter": status_filter,
                    "limit": _DOWNLOAD_PAGE,
                    "offset": len(items),
                },
            )
            page = body.get("items") or []
            dataset_id = body.get("dataset_id", dataset_id)
            if items and page and page[0] == items[0]:
                break  # a server that ignores offset: we already have everything it will give
            items.extend(page)
            if len(page) < _DOWNLOAD_PAGE:
                break
        return items, dataset_id

    def _fetch(self, task: _DownloadTask) -> None:
        if task.kind == "annotation" and self._is_api_url(task.url):
            payload = self._transport.request("GET", task.url)
            _write_json(task.destination, payload)
        else:
            self._transport.download(task.url, task.destination, signed=True)

    def _is_api_url(self, url: str) -> bool:
        """API endpoints need the key; signed blob URLs must not receive it."""
        parts = urlsplit(url)
        if parts.netloc and parts.netloc != urlsplit(self._transport.base_url).netloc:
            return False
        return "/api/" in parts.path and "signature=" not in parts.query


def _download_tasks(items: list[dict[str, Any]], mode: str, out: Path) -> list[_DownloadTask]:
    tasks: list[_DownloadTask] = []
    for item in items:
        filename = PurePosixPath(str(item.get("filename") or item.get("id"))).name
        folder = str(item.get("virtual_folder_path") or item.get("folder_path") or "/")
        directory = out.joinpath(
            *[part for part in PurePosixPath(folder).parts if part not in ("/", "..", ".")]
        )
        if mode in ("full", "images_only") and item.get("image_url"):
            tasks.append(_DownloadTask("image", item["image_url"], directory / filename, filename))
        if mode in ("full", "annotations_only") and item.get("annotation_url"):
            tasks.append(
                _DownloadTask(
                    "annotation", item["annotation_url"], directory / f"{filename}.json", filename
                )
            )
    return tasks


def _write_json(destination: Path, payload: Any) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    partial.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    partial.replace(destination)
