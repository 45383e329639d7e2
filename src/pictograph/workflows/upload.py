"""``upload_dataset_from_folder``: walk a local folder and upload every image into a dataset.

First-level subfolders become virtual folders (``./signs/stop/night/1.jpg`` → ``/stop``).
Re-running is safe: files already in the dataset under the same folder and name are
counted as skipped. Per-file problems end up in the report, never as exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pictograph.client.resources.datasets import ProgressCallback
from pictograph.exceptions import ConflictError, NotFoundError, PictographError
from pictograph.models.image import SUPPORTED_EXTENSIONS

if TYPE_CHECKING:
    from pictograph.client import Client

_EXISTING_PAGE = 10000
"""Image summaries fetched per call when listing what the dataset already holds."""


@dataclass(frozen=True)
class UploadFailure:
    path: str
    reason: str


@dataclass
class UploadReport:
    dataset_name: str
    images_attempted: int = 0
    images_uploaded: int = 0
    images_skipped: int = 0
    failures: list[UploadFailure] = field(default_factory=list)
    dataset_id: str | None = None

    @property
    def success(self) -> bool:
        """No failures and at least one file uploaded: an empty folder is not a success."""
        return not self.failures and self.images_uploaded > 0


@dataclass(frozen=True)
class _LocalImage:
    path: Path
    relative: str
    folder_path: str


Outcome = tuple[Literal["uploaded", "skipped", "failed"], str | None]


def upload_dataset_from_folder(
    client: Client,
    dataset_name: str,
    folder: str | Path,
    *,
    organize_by_class: bool = True,
    parallel: bool = True,
    max_workers: int = 8,
    skip_existing: bool = True,
    create_if_missing: bool = True,
    progress: ProgressCallback | None = None,
) -> UploadReport:
    """Upload every supported image under ``folder`` (recursively) to ``dataset_name``.

    Raises FileNotFoundError when ``folder`` is not a directory and NotFoundError when the
    dataset is missing and ``create_if_missing`` is False; everything else is reported.
    ``progress(done, total, relative_path)`` is called once per file, success or not.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Not a directory: {root}")
    dataset_id = _resolve_dataset(client, dataset_name, create_if_missing)
    images = list(_walk(root, organize_by_class))
    report = UploadReport(
        dataset_name=dataset_name, images_attempted=len(images), dataset_id=dataset_id
    )
    if not images:
        return report
    existing = _existing_files(client, dataset_name) if skip_existing else set()

    def upload_one(image: _LocalImage) -> Outcome:
        if (image.folder_path, image.path.name) in existing:
            return "skipped", None
        try:
            client.images.upload(dataset_id, image.path, folder_path=image.folder_path)
        except ConflictError as error:
            return ("skipped", None) if skip_existing else ("failed", str(error))
        except (PictographError, OSError) as error:
            return "failed", str(error)
        return "uploaded", None

    for done, (image, (outcome, reason)) in enumerate(
        _run(upload_one, images, parallel, max_workers), start=1
    ):
        if outcome == "uploaded":
            report.images_uploaded += 1
        elif outcome == "skipped":
            report.images_skipped += 1
        else:
            report.failures.append(
                UploadFailure(path=str(image.path), reason=reason or "unknown error")
            )
        if progress is not None:
            progress(done, len(images), image.relative)
    return report


def _resolve_dataset(client: Client, name: str, create_if_missing: bool) -> str:
    try:
        return client.datasets.get(name).id
    except NotFoundError:
        if not create_if_missing:
            raise
    try:
        return client.projects.create(name).id
    except ConflictError:  # created by someone else in the meantime
        return client.datasets.get(name).id


def _walk(root: Path, organize_by_class: bool) -> Iterator[_LocalImage]:
    """Supported images under ``root`` in a stable order, skipping hidden files and folders."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if not path.is_file() or path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            continue
        folder_path = (
            f"/{relative.parts[0]}" if organize_by_class and len(relative.parts) > 1 else "/"
        )
        yield _LocalImage(path=path, relative=relative.as_posix(), folder_path=folder_path)


def _existing_files(client: Client, dataset_name: str) -> set[tuple[str, str]]:
    """``(folder, filename)`` pairs already in the dataset, so a re-run sends no bytes for them.

    A summary without its folder is left out: the server's 409 still catches that duplicate.
    """
    existing: set[tuple[str, str]] = set()
    offset = 0
    while True:
        dataset = client.datasets.get(
            dataset_name, include_images=True, images_limit=_EXISTING_PAGE, images_offset=offset
        )
        page = dataset.images or []
        for image in page:
            if image.virtual_folder_path:
                existing.add((_normalise_folder(image.virtual_folder_path), image.filename))
        if len(page) < _EXISTING_PAGE:
            return existing
        offset += len(page)


def _normalise_folder(folder: str) -> str:
    stripped = folder.strip("/")
    return f"/{stripped}" if stripped else "/"


def _run(
    upload_one: Callable[[_LocalImage], Outcome],
    images: list[_LocalImage],
    parallel: bool,
    max_workers: int,
) -> Iterator[tuple[_LocalImage, Outcome]]:
    """Results in completion order, all consumed on this thread so ``progress`` never races."""
    if not parallel or max_workers <= 1:
        for image in images:
            yield image, upload_one(image)
        return
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {pool.submit(upload_one, image): image for image in images}
        for future in as_completed(futures):
            yield futures[future], future.result()
