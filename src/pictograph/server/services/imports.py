"""Imports: archives read safely, and ImportedImage items written into a dataset.

Two halves, both used by file imports (a ZIP upload or a server-side folder) and by the V7 /
Roboflow connectors, which download an export and then import it the same way.

Safe archives. Before anything is extracted every entry is checked: a name that is absolute
(``/x``, ``C:\\x``), has a ``..`` component, a NUL or a control character is refused (422
``unsafe_archive``); so is a symlink, a device or any entry that is not a plain file or folder,
and an encrypted entry. Size limits are 413 ``archive_too_large``: more than
:data:`MAX_ENTRIES` entries, more than :attr:`ArchiveLimits.max_total_bytes` uncompressed, or
an entry of at least :data:`RATIO_FLOOR_BYTES` that inflates more than :data:`MAX_RATIO` times
(a decompression bomb), or entries that overlap in the file (the overlapping-entry bomb).
Extraction checks again, counts the bytes it actually writes (a header that understates a
size is caught when the data outgrows it) and writes only under the target folder: each path
is built from checked components and resolved before it is opened.

Writing items. Each ImportedImage is one job item, keyed by its relative path, so a resumed
job skips what it already did. The image goes through the same path as an upload
(:func:`pictograph.server.services.images.register_image`: filename and folder rules, decode,
size, HEIC → PNG, unique name per folder) under a blob key derived from the job and the item,
so that an item written just before a crash is recognised as this job's own. Classes the
items name are added to the dataset as they appear. Annotations are validated exactly as a
save is; an image whose annotations fail is imported without them and the failure counted
with the file and the reason. An image whose name is already taken in its folder is skipped
("image already in dataset"), never overwritten.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from pictograph.formats import IMPORT_FORMATS, get_reader
from pictograph.formats.base import FormatReader, ImportedImage, ImportSummary
from pictograph.models.image import SUPPORTED_EXTENSIONS as ALLOWED_EXTENSIONS
from pictograph.server.auth import Principal
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import Image, Job, Project, utcnow
from pictograph.server.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    UnsupportedMediaType,
)
from pictograph.server.jobs.context import JobCancelled, JobContext
from pictograph.server.jobs.records import TERMINAL, enqueue, get_job, job_json, request_cancel
from pictograph.server.roles import require
from pictograph.server.services import projects
from pictograph.server.services.annotations import stage_for_count, validate_annotations
from pictograph.server.services.images import (
    check_extension,
    extension_of,
    new_blob_key,
    normalize_folder,
    register_image,
    validate_filename,
)

logger = logging.getLogger("pictograph.imports")

MAX_ENTRIES = 1_000_000
"""Most entries (files and folders) an archive may hold."""
MAX_RATIO = 100.0
"""Most an entry may inflate (uncompressed / compressed); real annotation files stay far below."""
RATIO_FLOOR_BYTES = 1024 * 1024
"""Entries smaller than this are not ratio-checked (tiny files compress arbitrarily well)."""
TOTAL_FACTOR = 4
"""The uncompressed total may be at most this many times ``import_max_bytes``."""
MAX_ERRORS_REPORTED = 1000
"""The report lists at most this many error lines (``errors_total`` counts them all)."""
IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
ITEM_KEY_LIMIT = 255
COPY_CHUNK = 1024 * 1024
REPORT_EVERY_SECONDS = 1.0
# Formats tried, in order, when the caller names none: the most specific detectors first.
DETECT_ORDER: tuple[str, ...] = ("pictograph", "coco", "v7", "labelme", "cvat", "pascal_voc", "yolo")
PROJECT_TYPE = {"bbox": "bbox", "polygon": "polygon", "polyline": "polyline", "keypoint": "keypoint"}

_DRIVE = re.compile(r"^[A-Za-z]:")


# ───────────── errors ─────────────


class UnsafeArchive(Invalid):
    """422: an entry could escape the target folder or is not a plain file."""

    error_code = "unsafe_archive"

    def __init__(self, detail: str, entry: str | None = None) -> None:
        super().__init__(detail, loc=["file", entry] if entry else ["file"])


class ArchiveTooLarge(PayloadTooLarge):
    """413: the archive is, or would extract to, more than the limits allow."""

    error_code = "archive_too_large"


class ImportFailed(Exception):
    """The whole import cannot go on (no format detected, dataset gone, …); fails the job."""


# ───────────── archive safety ─────────────


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_bytes: int
    max_entries: int = MAX_ENTRIES
    max_ratio: float = MAX_RATIO
    ratio_floor: int = RATIO_FLOOR_BYTES

    @classmethod
    def for_settings(cls, import_max_bytes: int) -> ArchiveLimits:
        return cls(max_total_bytes=import_max_bytes * TOTAL_FACTOR)


@dataclass
class ArchiveStats:
    entries: int = 0
    files: int = 0
    total_bytes: int = 0
    image_files: int = 0
    image_bytes: int = 0


def _is_ignored(parts: list[str]) -> bool:
    """macOS and Windows litter: resource forks, Finder and Explorer metadata."""
    return (
        parts[0] == "__MACOSX"
        or parts[-1] in IGNORED_NAMES
        or parts[-1].startswith("._")
    )


def safe_parts(name: str) -> list[str]:
    """The checked path components of an entry name; UnsafeArchive when it could escape."""
    if "\x00" in name or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise UnsafeArchive(f"Archive entry {name!r} contains NUL or control characters", name)
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or _DRIVE.match(normalised):
        raise UnsafeArchive(f"Archive entry {name!r} has an absolute path", name)
    parts = [part for part in normalised.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"Archive entry {name!r} has a '..' component (zip-slip)", name)
    return parts


def _entry_kind(info: zipfile.ZipInfo) -> str:
    """'dir', 'file', or the kind of special entry (symlink, device…) it is."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return "symlink"
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return "special file"
    return "dir" if info.is_dir() else "file"


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise Invalid(f"The upload is not a readable ZIP archive ({error})", loc=["file"]) from error
    except OSError as error:
        raise Invalid(f"The archive cannot be read ({error})", loc=["file"]) from error


def _check_entries(archive: zipfile.ZipFile, limits: ArchiveLimits) -> tuple[ArchiveStats, list[tuple[zipfile.ZipInfo, list[str]]]]:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise ArchiveTooLarge(
            f"The archive has {len(infos)} entries; at most {limits.max_entries} are allowed"
        )
    stats = ArchiveStats(entries=len(infos))
    plan: list[tuple[zipfile.ZipInfo, list[str]]] = []
    offsets: set[int] = set()
    for info in infos:
        parts = safe_parts(info.filename)
        kind = _entry_kind(info)
        if kind in ("symlink", "special file"):
            raise UnsafeArchive(f"Archive entry {info.filename!r} is a {kind}; only files and folders are allowed", info.filename)
        if info.flag_bits & 0x1:
            raise UnsafeArchive(f"Archive entry {info.filename!r} is encrypted", info.filename)
        if info.header_offset in offsets:
            raise ArchiveTooLarge(
                f"Archive entry {info.filename!r} overlaps another entry (a zip bomb); refused"
            )
        offsets.add(info.header_offset)
        if not parts or kind == "dir":
            continue
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
            raise UnsafeArchive(f"Archive entry {info.filename!r} uses an unsupported compression method", info.filename)
        size = info.file_size
        if size >= limits.ratio_floor and size > limits.max_ratio * max(info.compress_size, 1):
            ratio = size / max(info.compress_size, 1)
            raise ArchiveTooLarge(
                f"Archive entry {info.filename!r} would inflate {ratio:.0f}-fold "
                f"({info.compress_size} → {size} bytes; at most {limits.max_ratio:.0f}-fold is allowed): "
                "refused as a decompression bomb"
            )
        stats.total_bytes += size
        if stats.total_bytes > limits.max_total_bytes:
            raise ArchiveTooLarge(
                f"The archive would extract to more than {limits.max_total_bytes} bytes"
            )
        if _is_ignored(parts):
            continue
        stats.files += 1
        if extension_of(parts[-1]) in ALLOWED_EXTENSIONS:
            stats.image_files += 1
            stats.image_bytes += size
        plan.append((info, parts))
    return stats, plan


def inspect_archive(path: Path, limits: ArchiveLimits) -> ArchiveStats:
    """Check every entry without extracting anything; raise UnsafeArchive / ArchiveTooLarge."""
    with _open_zip(path) as archive:
        stats, _ = _check_entries(archive, limits)
    return stats


def extract_archive(path: Path, destination: Path, limits: ArchiveLimits) -> ArchiveStats:
    """Extract the checked entries under ``destination`` (which must not exist yet or be empty)."""
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    written_total = 0
    with _open_zip(path) as archive:
        stats, plan = _check_entries(archive, limits)
        for info, parts in plan:
            target = root.joinpath(*parts)
            parent = target.parent.resolve()
            if parent != root and root not in parent.parents:
                raise UnsafeArchive(f"Archive entry {info.filename!r} escapes the target folder", info.filename)
            parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or (target.exists() and not target.is_file()):
                raise UnsafeArchive(f"Archive entry {info.filename!r} collides with another entry", info.filename)
            written = 0
            try:
                with archive.open(info) as source, open(target, "wb") as sink:
                    while chunk := source.read(COPY_CHUNK):
                        written += len(chunk)
                        written_total += len(chunk)
                        if written > info.file_size or written_total > limits.max_total_bytes:
                            raise ArchiveTooLarge(
                                f"Archive entry {info.filename!r} inflates past its declared size; refused"
                            )
                        sink.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError, ValueError) as error:
                if isinstance(error, OSError) and error.errno is not None and not isinstance(error, FileNotFoundError):
                    # A disk problem (no space, name too long): the entry is named so the user can fix it.
                    raise Invalid(f"Archive entry {info.filename!r} cannot be extracted: {error}", loc=["file", info.filename]) from error
                raise Invalid(f"Archive entry {info.filename!r} is corrupt: {error}", loc=["file", info.filename]) from error
    return stats


def allowed_roots(setting: str) -> list[Path]:
    return [Path(part).expanduser().resolve() for part in setting.split(os.pathsep) if part.strip()]


def _within(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def check_server_path(raw: Any, roots_setting: str) -> Path:
    """A server-side folder (or .zip) the caller may import from: under a configured root."""
    roots = allowed_roots(roots_setting)
    if not roots:
        raise Forbidden(
            "Importing from a server path is disabled on this server; set PICTOGRAPH_IMPORT_ROOTS "
            "to the directories that may be imported from, or upload a ZIP instead"
        )
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
        raise Invalid("path must be a non-blank server path", loc=["path"])
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise Invalid("path must be absolute", loc=["path"])
    resolved = path.resolve()
    if not _within(resolved, roots):
        raise Forbidden(f"{raw!r} is outside the directories PICTOGRAPH_IMPORT_ROOTS allows")
    if not resolved.exists():
        raise NotFound(f"No such folder on the server: {raw!r}")
    if not (resolved.is_dir() or (resolved.is_file() and resolved.suffix.lower() == ".zip")):
        raise Invalid("path must be a folder or a .zip file", loc=["path"])
    return resolved


def check_tree(root: Path, roots_setting: str) -> None:
    """Refuse a folder holding a symlink that leads outside the allowed roots."""
    roots = allowed_roots(roots_setting)
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(folder) / name
            if path.is_symlink() and not _within(path.resolve(), roots):
                raise ImportFailed(
                    f"{path.relative_to(root)} is a symlink leading outside PICTOGRAPH_IMPORT_ROOTS; refused"
                )


def content_root(root: Path) -> Path:
    """Descend through a lone top-level folder ("dataset/…" archives) to where the data starts."""
    current = root
    for _ in range(8):
        children = [
            child for child in current.iterdir()
            if child.name not in IGNORED_NAMES and child.name != "__MACOSX" and not child.name.startswith("._")
        ]
        if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
            current = children[0]
        else:
            break
    return current


def count_images(root: Path) -> int:
    total = 0
    for _folder, _dirs, files in os.walk(root):
        total += sum(1 for name in files if extension_of(name) in ALLOWED_EXTENSIONS)
    return total


# ───────────── formats ─────────────


def check_format(name: Any) -> str | None:
    """None (detect) or one of the import formats (422 otherwise)."""
    if name is None or name == "" or name == "auto":
        return None
    if name not in IMPORT_FORMATS:
        raise Invalid(
            f"Unknown import format {name!r}; expected one of {', '.join(IMPORT_FORMATS)} (or omit it to detect)",
            loc=["format"],
        )
    return name


def reader_for(name: str) -> FormatReader:
    try:
        return get_reader(name)
    except (KeyError, ImportError, AttributeError) as error:
        raise ImportFailed(f"The {name} reader is not available on this server ({error})") from error


def detect_format(root: Path) -> str:
    for name in DETECT_ORDER:
        try:
            reader = get_reader(name)
        except (KeyError, ImportError, AttributeError):
            continue
        try:
            if reader.detect(root):
                return name
        except Exception:  # a detector that trips over odd input simply does not match
            logger.debug("detector %s failed", name, exc_info=True)
    raise ImportFailed(
        "Could not detect the annotation format; pass format= one of " + ", ".join(IMPORT_FORMATS)
    )


# ───────────── the target dataset ─────────────


def job_principal(payload: dict[str, Any], organization_id: str) -> Principal:
    """The caller who started the job, as far as the rules need it (role and key id)."""
    return Principal(
        api_key_id=payload.get("api_key_id") or "",
        organization_id=organization_id,
        role=payload.get("role") or "member",
        key_rate_limit=0,
        tier="",
    )


def prepare_dataset(
    session: Any, principal: Principal, name: Any, *, create_if_missing: bool, loc: list[Any]
) -> tuple[str, bool]:
    """(project id, created) for the target dataset; 404 when missing and not to be created."""
    require(principal.role, "member", "Importing into a dataset")
    name = projects.validate_project_name(name, loc)
    try:
        return projects.find_by_name(session, principal, name).id, False
    except NotFound:
        if not create_if_missing:
            raise NotFound(f"Dataset {name!r} not found (pass create_if_missing=true to create it)") from None
    try:
        view = projects.create_project(session, principal, name=name, description="Imported")
    except Conflict:  # created meanwhile by a concurrent import
        return projects.find_by_name(session, principal, name).id, False
    return view.project.id, True


def _class_type(kind: Any, fallback: str) -> str:
    return PROJECT_TYPE.get(kind, fallback) if isinstance(kind, str) else fallback


def add_classes(ctx: ServerContext, project_id: str, wanted: dict[str, Any]) -> list[str]:
    """Add the classes named in ``wanted`` (name → annotation type) that the dataset lacks."""
    with ctx.db.session() as session:
        project = session.scalar(select(Project).where(Project.id == project_id).with_for_update())
        if project is None:
            raise ImportFailed("The target dataset was deleted during the import")
        current = [c for c in (project.classes or []) if isinstance(c, dict)]
        existing = {c.get("name") for c in current}
        types = list(project.annotation_types or projects.DEFAULT_ANNOTATION_TYPES)
        default = types[0] if types else "bbox"
        added: list[dict[str, Any]] = []
        for name, kind in wanted.items():
            if name in existing or not isinstance(name, str) or not name.strip():
                continue
            if len(name) > projects.MAX_CLASS_NAME_LENGTH or "\x00" in name:
                continue  # such a name fails annotation validation and is reported there
            position = len(current) + len(added)
            if position >= projects.MAX_CLASSES:
                break
            kind_name = _class_type(kind, default)
            color = projects.PALETTE[position % len(projects.PALETTE)]
            added.append({"name": name, "type": kind_name, "color": color})
            existing.add(name)
            if kind_name not in types:
                types.append(kind_name)
        if not added:
            return []
        project.classes = projects.validate_classes([*current, *added], ["classes"], default)
        project.annotation_types = types
        project.updated_at = utcnow()
    return [entry["name"] for entry in added]


def class_names(ctx: ServerContext, project_id: str) -> set[str]:
    with ctx.db.session() as session:
        project = session.get(Project, project_id)
        if project is None:
            raise ImportFailed("The target dataset was deleted during the import")
        return {c["name"] for c in (project.classes or []) if isinstance(c, dict) and "name" in c}


# ───────────── one import run ─────────────


def item_key(prefix: str, folder: str, filename: str) -> str:
    relative = f"{folder.strip('/')}/{filename}" if folder.strip("/") else filename
    key = f"{prefix}{relative}"
    if len(key) > ITEM_KEY_LIMIT:
        key = f"{prefix}sha256:{hashlib.sha256(relative.encode('utf-8', 'surrogatepass')).hexdigest()}"
    return key


def _blob_key(principal: Principal, project_id: str, job_id: str, key: str, filename: str) -> str:
    """A key in the upload format, fixed by (job, item): a crashed item's blob is recognisable."""
    generic = new_blob_key(principal.organization_id, project_id, filename)
    prefix, _random, name = generic.rsplit("/", 2)
    digest = hashlib.sha256(f"{job_id}\x00{key}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{prefix}/{digest}/{name}"


@dataclass
class RunTotals:
    images_imported: int = 0
    images_skipped: int = 0
    images_failed: int = 0
    annotations_imported: int = 0
    annotations_failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    errors_total: int = 0

    def add_result(self, ok: bool, result: dict[str, Any] | None, error: str | None) -> None:
        result = result or {}
        outcome = result.get("outcome") or ("imported" if ok else "failed")
        if outcome == "imported":
            self.images_imported += 1
            self.annotations_imported += int(result.get("annotations", 0))
            failed = int(result.get("annotations_failed", 0))
            self.annotations_failed += failed
            if failed and result.get("error"):
                self.error(result["error"])
        elif outcome == "skipped":
            self.images_skipped += 1
            self.skipped[str(result.get("reason", "skipped"))] += 1
        else:
            self.images_failed += 1
            self.error(error or result.get("error") or "failed")

    def error(self, message: str) -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_ERRORS_REPORTED:
            self.errors.append(message)


def build_report(
    totals: RunTotals,
    summary: ImportSummary | None,
    *,
    fmt: str | None,
    dataset_name: str,
    dataset_id: str | None,
    dataset_created: bool,
    classes_created: list[str],
) -> dict[str, Any]:
    skipped = Counter(totals.skipped)
    errors = list(totals.errors)
    errors_total = totals.errors_total
    annotations_skipped = 0
    if summary is not None:
        for reason, count in summary.skipped.items():
            skipped[reason] += count
            annotations_skipped += count
        room = max(0, MAX_ERRORS_REPORTED - len(errors))
        errors = [*summary.errors[:room], *errors][:MAX_ERRORS_REPORTED]
        errors_total += len(summary.errors)
    return {
        "format": fmt,
        "dataset_name": dataset_name,
        "dataset_id": dataset_id,
        "dataset_created": dataset_created,
        "images_imported": totals.images_imported,
        "images_skipped": totals.images_skipped,
        "images_failed": totals.images_failed,
        "annotations_imported": totals.annotations_imported,
        "annotations_skipped": annotations_skipped,
        "annotations_failed": totals.annotations_failed,
        "skipped": dict(sorted(skipped.items())),
        "errors": errors,
        "errors_total": errors_total,
        "classes_created": list(classes_created),
    }


@dataclass
class ImportRun:
    """Everything one pass of items into one dataset needs; ``run()`` returns the report."""

    job: JobContext
    root: Path
    fmt: str
    project_id: str
    dataset_name: str
    principal: Principal
    key_prefix: str = ""
    dataset_created: bool = False
    classes_created: list[str] = field(default_factory=list)
    on_progress: Callable[[dict[str, Any]], None] | None = None
    """Receives the partial report now and then (the handler persists it on the job)."""
    item_check: Callable[[ImportedImage], tuple[str, str] | None] | None = None
    """("skipped", reason) or ("failed", message) for an item that must not be imported
    (a V7 video, a file whose download failed); None to import it."""
    _classes: set[str] = field(default_factory=set)

    def run(self) -> dict[str, Any]:
        ctx = self.job.server
        reader = reader_for(self.fmt)
        summary = ImportSummary()
        totals, done = self._recorded()
        self._classes = class_names(ctx, self.project_id)
        known = set(self._classes)
        last_report = time.monotonic()
        try:
            for item in reader.read(self.root, summary):
                self._new_classes(summary, known)
                key = item_key(self.key_prefix, item.folder or "/", item.filename)
                if key in done:
                    continue
                done.add(key)
                ok, result, error = self._import_one(item, key, known)
                if self.job.record_item(key, ok=ok, result=result, error=error):
                    totals.add_result(ok, result, error)
                if self.on_progress is not None and time.monotonic() - last_report >= REPORT_EVERY_SECONDS:
                    last_report = time.monotonic()
                    self.on_progress(self._report(totals, summary))
            self._new_classes(summary, known)  # classes listed without any annotation
            self.job.heartbeat()
        except JobCancelled:
            # The item being recorded when the cancel arrived may be in; count from the records.
            if self.on_progress is not None:
                self.on_progress(self._report(self._recorded()[0], summary))
            raise
        report = self._report(totals, summary)
        if self.on_progress is not None:
            self.on_progress(report)
        return report

    def _recorded(self) -> tuple[RunTotals, set[str]]:
        totals = RunTotals()
        done: set[str] = set()
        for row in self.job.item_results():
            if row.item_key.startswith(self.key_prefix):
                done.add(row.item_key)
                totals.add_result(row.ok, row.result, row.error)
        return totals, done

    def _report(self, totals: RunTotals, summary: ImportSummary) -> dict[str, Any]:
        return build_report(
            totals, summary, fmt=self.fmt, dataset_name=self.dataset_name,
            dataset_id=self.project_id, dataset_created=self.dataset_created,
            classes_created=self.classes_created,
        )

    def _new_classes(self, summary: ImportSummary, known: set[str]) -> None:
        wanted = {name: kind for name, kind in summary.classes.items() if name not in known}
        if wanted:
            self._add_classes(wanted, known)

    def _add_classes(self, wanted: dict[str, Any], known: set[str]) -> None:
        added = add_classes(self.job.server, self.project_id, wanted)
        known.update(wanted)
        if added:
            self.classes_created.extend(added)
            self._classes = class_names(self.job.server, self.project_id)

    def _import_one(
        self, item: ImportedImage, key: str, known: set[str]
    ) -> tuple[bool, dict[str, Any], str | None]:
        where = key[len(self.key_prefix):]
        if self.item_check is not None and (verdict := self.item_check(item)) is not None:
            outcome, message = verdict
            if outcome == "failed":
                return False, {"outcome": "failed"}, message
            return True, {"outcome": "skipped", "reason": message}, None
        try:
            filename = validate_filename(item.filename, ["filename"])
            folder = normalize_folder(item.folder or "/", ["folder"])
            check_extension(filename)
        except UnsupportedMediaType:
            return True, {"outcome": "skipped", "reason": "unsupported image type"}, None
        except Invalid as error:
            return False, {"outcome": "failed"}, f"{where}: {error.detail}"
        if item.source is None or not item.source.is_file():
            return True, {"outcome": "skipped", "reason": "image file missing"}, None

        # Classes first (the reader reports them as it goes), then the annotations as a save would check them.
        missing: dict[str, Any] = {}
        for annotation in item.annotations:
            name = annotation.get("name") if isinstance(annotation, dict) else None
            if isinstance(name, str) and name not in known and name not in missing:
                missing[name] = annotation.get("type")
        if missing:
            self._add_classes(missing, known)
        stored: list[dict[str, Any]] = []
        annotation_error: str | None = None
        if item.annotations:
            try:
                stored = validate_annotations(
                    item.annotations, self._classes, self.principal.api_key_id or None
                )
            except Invalid as error:
                annotation_error = f"{where}: {error.detail}"
                stored = []

        ctx = self.job.server
        existing = self._existing(folder, filename)
        blob_key = _blob_key(self.principal, self.project_id, self.job.job_id, key, filename)
        if existing is not None:
            stored_key, count = existing
            if stored_key.rsplit("/", 2)[-2] == blob_key.rsplit("/", 2)[-2]:
                # This job wrote it just before a crash: count it as imported, once.
                return True, {"outcome": "imported", "annotations": count, "resumed": True}, None
            return True, {"outcome": "skipped", "reason": "image already in dataset"}, None
        size = item.source.stat().st_size
        if size > ctx.settings.max_upload_bytes:
            return False, {"outcome": "failed"}, (
                f"{where}: image is {size} bytes; the upload limit is {ctx.settings.max_upload_bytes}"
            )
        if size == 0:
            return False, {"outcome": "failed"}, f"{where}: image file is empty"
        ctx.blobs.write_bytes(blob_key, item.source.read_bytes())
        try:
            with ctx.db.session() as session:
                image = register_image(
                    session, ctx.blobs, self.principal,
                    form={"dataset_id": self.project_id, "filename": filename, "folder_path": folder, "gcs_path": blob_key},
                    max_bytes=ctx.settings.max_upload_bytes,
                )
                image.annotations = stored
                image.annotation_count = len(stored)
                image.status = stage_for_count(len(stored))
                session.flush()
        except Conflict:
            return True, {"outcome": "skipped", "reason": "image already in dataset"}, None
        except (Invalid, UnsupportedMediaType, PayloadTooLarge) as error:
            return False, {"outcome": "failed"}, f"{where}: {error.detail}"
        except NotFound as error:
            raise ImportFailed(f"The target dataset is gone: {error.detail}") from error
        result: dict[str, Any] = {"outcome": "imported", "annotations": len(stored)}
        if annotation_error is not None:
            result["annotations_failed"] = len(item.annotations)
            result["error"] = annotation_error
        return True, result, None

    def _existing(self, folder: str, filename: str) -> tuple[str, int] | None:
        with self.job.server.db.session() as session:
            row = session.execute(
                select(Image.storage_key, Image.annotation_count).where(
                    Image.project_id == self.project_id,
                    Image.virtual_folder_path == folder,
                    Image.filename.in_([filename, _png_variant(filename)]),
                    Image.is_archived.is_(False),
                )
            ).first()
        if row is None:
            return None
        return row[0], int(row[1] or 0)


def _png_variant(filename: str) -> str:
    """HEIC uploads are stored as PNG under the same stem."""
    if extension_of(filename) != ".heic":
        return filename
    return filename[: filename.rfind(".")] + ".png"


# ───────────── work folders ─────────────


def imports_dir(ctx: ServerContext) -> Path:
    path = ctx.settings.data_dir / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def work_dir(ctx: ServerContext, name: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", name or ""):
        raise ImportFailed("The import's working folder is missing")
    return imports_dir(ctx) / name


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def iter_files(root: Path) -> Iterator[Path]:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            yield Path(folder) / name


__all__ = [
    "ArchiveLimits",
    "ArchiveStats",
    "ArchiveTooLarge",
    "ImportFailed",
    "ImportRun",
    "ServiceError",
    "UnsafeArchive",
    "extract_archive",
    "inspect_archive",
]


# ───────────── file imports: start, status, the job ─────────────

KIND = "import"
CANCEL_WAIT_SECONDS = 10.0


def new_work_dir(ctx: ServerContext) -> tuple[str, Path]:
    name = uuid.uuid4().hex
    path = imports_dir(ctx) / name
    path.mkdir(parents=True)
    return name, path


def _enqueue_file_import(
    ctx: ServerContext,
    principal: Principal,
    *,
    dataset_name: Any,
    fmt: Any,
    create_if_missing: bool,
    images: int,
    size_bytes: int,
    source: dict[str, Any],
) -> Job:
    from pictograph.server.services.connectors import enforce_limits

    fmt = check_format(fmt)
    with ctx.db.session() as session:
        enforce_limits(session, principal.organization_id, images, size_bytes)
        project_id, created = prepare_dataset(
            session, principal, dataset_name, create_if_missing=create_if_missing, loc=["dataset_name"]
        )
        payload = {
            **source,
            "dataset_name": dataset_name,
            "dataset_id": project_id,
            "dataset_created": created,
            "format": fmt,
            "create_if_missing": create_if_missing,
            "api_key_id": principal.api_key_id,
            "role": principal.role,
        }
        job = enqueue(session, principal.organization_id, KIND, payload, total=images)
        session.flush()
        session.expunge(job)
    if ctx.jobs is not None:
        ctx.jobs.wake()
    return job


def start_upload_import(
    ctx: ServerContext,
    principal: Principal,
    *,
    work: str,
    stats: ArchiveStats,
    filename: str | None,
    dataset_name: Any,
    fmt: Any,
    create_if_missing: bool,
) -> Job:
    """Enqueue the import of an uploaded (and already inspected) archive in ``imports/<work>``."""
    return _enqueue_file_import(
        ctx, principal, dataset_name=dataset_name, fmt=fmt, create_if_missing=create_if_missing,
        images=stats.image_files, size_bytes=stats.image_bytes,
        source={"source": "upload", "work_dir": work, "filename": filename, "archive_bytes": stats.total_bytes},
    )


def start_path_import(
    ctx: ServerContext,
    principal: Principal,
    *,
    path: Any,
    dataset_name: Any,
    fmt: Any,
    create_if_missing: bool,
) -> Job:
    """Enqueue the import of a folder (or .zip) on the server, under PICTOGRAPH_IMPORT_ROOTS."""
    require(principal.role, "admin", "Importing from a server path")
    check_format(fmt)
    resolved = check_server_path(path, ctx.settings.import_roots)
    if resolved.is_file():
        stats = inspect_archive(resolved, ArchiveLimits.for_settings(ctx.settings.import_max_bytes))
        images, size = stats.image_files, stats.image_bytes
    else:
        images, size = 0, 0
        for file in iter_files(resolved):
            if extension_of(file.name) in ALLOWED_EXTENSIONS:
                images += 1
                try:
                    size += file.stat().st_size
                except OSError:
                    pass
    work, _ = new_work_dir(ctx)
    try:
        return _enqueue_file_import(
            ctx, principal, dataset_name=dataset_name, fmt=fmt, create_if_missing=create_if_missing,
            images=images, size_bytes=size,
            source={"source": "path", "path": str(resolved), "work_dir": work},
        )
    except BaseException:
        remove_tree(imports_dir(ctx) / work)
        raise


def get_file_import(session: Any, principal: Principal, import_id: str) -> Job:
    if not isinstance(import_id, str) or "\x00" in import_id:
        raise NotFound(f"Import {import_id!r} not found")
    try:
        return get_job(session, principal.organization_id, import_id, KIND)
    except NotFound:
        raise NotFound(f"Import {import_id!r} not found") from None


def list_file_imports(session: Any, principal: Principal, limit: int, offset: int) -> tuple[list[Job], int]:
    where = (Job.organization_id == principal.organization_id, Job.kind == KIND)
    total = session.scalar(select(func.count()).select_from(Job).where(*where)) or 0
    jobs = list(
        session.scalars(
            select(Job).where(*where).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
        )
    )
    return jobs, int(total)


def cancel_file_import(ctx: ServerContext, principal: Principal, import_id: str) -> dict[str, Any]:
    require(principal.role, "member", "Cancelling an import")
    with ctx.db.session() as session:
        job = get_file_import(session, principal, import_id)
        was_pending = job.status == "pending"
        request_cancel(session, job)
        # Cancelled before any worker claimed it (a worker claiming it meanwhile turns the
        # cancel into a request, and the running job cleans up after itself).
        unclaimed = was_pending and job.status == "cancelled"
        work = (job.payload or {}).get("work_dir", "")
    if unclaimed and work:
        remove_tree(work_dir(ctx, work))  # no worker will run it: drop the upload now
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    while True:
        with ctx.db.session() as session:
            job = get_file_import(session, principal, import_id)
            if job.status in TERMINAL or time.monotonic() >= deadline:
                return import_job_json(job)
        time.sleep(0.1)


def import_job_json(job: Job) -> dict[str, Any]:
    """A file import: the common job fields, where it came from, and its report."""
    payload = job.payload or {}
    report = (job.result or {}).get("report") or payload.get("report")
    data = job_json(job)
    data.update(
        {
            "import_id": job.id,
            "dataset_name": payload.get("dataset_name"),
            "dataset_id": payload.get("dataset_id"),
            "dataset_created": bool(payload.get("dataset_created")),
            "format": payload.get("format"),
            "source": payload.get("source"),
            "filename": payload.get("filename"),
            "path": payload.get("path"),
            "report": report,
        }
    )
    return data


def run_file_job(job: JobContext) -> dict[str, Any]:
    """The ``import`` handler: extract (once), detect the format, import every item."""
    ctx = job.server
    payload = job.payload
    work = work_dir(ctx, payload.get("work_dir", ""))
    limits = ArchiveLimits.for_settings(ctx.settings.import_max_bytes)
    try:
        if payload.get("source") == "upload":
            root = _extract_once(work, work / "upload.zip", limits, delete_archive=True)
        else:
            path = check_server_path(payload.get("path"), ctx.settings.import_roots)
            if path.is_file():
                root = _extract_once(work, path, limits, delete_archive=False)
            else:
                check_tree(path, ctx.settings.import_roots)
                root = path
        root = content_root(root)
        fmt = payload.get("format") or detect_format(root)
        if fmt != payload.get("format"):
            job.update_payload(format=fmt)
        job.set_total(count_images(root))
        previous = payload.get("report") or {}
        run = ImportRun(
            job=job,
            root=root,
            fmt=fmt,
            project_id=payload["dataset_id"],
            dataset_name=payload["dataset_name"],
            principal=job_principal(payload, job.organization_id),
            dataset_created=bool(payload.get("dataset_created")),
            classes_created=list(previous.get("classes_created") or []),
            on_progress=lambda report: job.update_payload(report=report),
        )
        report = run.run()
        job.set_total(report["images_imported"] + report["images_skipped"] + report["images_failed"])
        return {"report": report}
    except ServiceError as error:
        raise ImportFailed(error.detail) from error
    finally:
        remove_tree(work)


def _extract_once(work: Path, archive: Path, limits: ArchiveLimits, *, delete_archive: bool) -> Path:
    root = work / "extracted"
    marker = work / ".extracted"
    if not marker.exists():
        if not archive.is_file():
            raise ImportFailed("The uploaded archive is gone; upload it again")
        remove_tree(root)
        extract_archive(archive, root, limits)
        if delete_archive:
            archive.unlink(missing_ok=True)
        marker.touch()
    return root
