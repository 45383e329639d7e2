"""Connectors: validate a V7 / Roboflow key, check tier caps, run an import as a durable job.

Wire shapes are those of the Connectors page and the published client's models:
``ValidationResult`` (``valid``, ``workspace``, ``datasets``, ``error``), ``LimitCheckResult``
and ``ImportJob`` (``import_id``, ``status`` processing / completed / error / cancelled,
``progress`` 0–100, totals, ``current_dataset``, ``datasets`` rows with ``name``,
``project_id``, ``status`` pending / processing / completed / error, ``imported``,
``failed``). Rows carry the docs' names too (``dataset_name``, ``images_imported``,
``total_images``) and each dataset's import report.

A rejected remote key is ``valid: false`` from validate and 401 (``connector_auth_failed``)
from import; an empty dataset list or an unknown provider is 422; an import over the tier
caps is 402 (``tier_limit_exceeded``); an unknown import id is 404.

Tier caps (images, bytes) by the organization's tier — :data:`TIER_CAPS`; a positive
``max_images`` / ``max_storage_bytes`` on the organization overrides them. A self-hosted
install's organization is ``enterprise`` unless ``PICTOGRAPH_DEFAULT_TIER`` says otherwise.

The remote key. It is needed again if the job resumes after a restart, so the job keeps it
sealed (HMAC-SHA256 counter-mode encryption with an HMAC tag, under a per-install secret in
``<data_dir>/connectors.key``) and erases it when the job ends; it is never returned, logged or
stored in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Self

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pictograph.server.auth import Principal
from pictograph.server.connectors import (
    PROVIDER_NAMES,
    PROVIDERS,
    RemoteAuthError,
    RemoteDatasetInfo,
    RemoteError,
    RemoteNotFound,
    connector_for,
)
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import Image, Job, Organization, as_utc
from pictograph.server.errors import Invalid, NotFound, ServiceError, Unauthorized
from pictograph.server.jobs.context import JobCancelled, JobContext
from pictograph.server.jobs.records import enqueue, get_job, request_cancel
from pictograph.server.roles import require
from pictograph.server.security import load_or_create_secret
from pictograph.server.services import imports as import_service
from pictograph.server.services.imports import (
    ArchiveLimits,
    ImportFailed,
    ImportRun,
    extract_archive,
    item_key,
    job_principal,
    prepare_dataset,
    remove_tree,
    work_dir,
)

logger = logging.getLogger("pictograph.connectors")

KIND = "connector_import"
GIB = 1024**3
TIER_CAPS: dict[str, tuple[int, int]] = {
    "free": (1_000, 1 * GIB),
    "core": (10_000, 10 * GIB),
    "pro": (100_000, 100 * GIB),
    "team": (500_000, 500 * GIB),
    "enterprise": (100_000_000, 100 * 1024 * GIB),
}
"""(max images, max storage bytes) per subscription tier."""
UPGRADE_URL = "/settings/billing"
EXPORT_POLL_SECONDS = 0.5
EXPORT_TIMEOUT_SECONDS = 3600.0
DOWNLOAD_WORKERS = 8
PREFETCH_WINDOW = 32
"""Item files fetched ahead of the one being imported."""
MAX_DATASETS = 50
STATUS_MAP = {
    "pending": "processing",
    "running": "processing",
    "completed": "completed",
    "failed": "error",
    "cancelled": "cancelled",
}
CANCEL_WAIT_SECONDS = 10.0


class TierLimitExceeded(ServiceError):
    status_code = 402
    error_code = "tier_limit_exceeded"


class ConnectorAuthFailed(Unauthorized):
    error_code = "connector_auth_failed"


class RemoteUnavailable(ServiceError):
    """502: the remote platform failed or could not be reached."""

    status_code = 502
    error_code = "connector_unavailable"


# ───────────── the sealed remote key ─────────────


def _secret_keys(ctx: ServerContext) -> tuple[bytes, bytes]:
    secret = load_or_create_secret(ctx.settings.data_dir / "connectors.key")
    return (
        hmac.new(secret, b"pictograph connector key: encryption", hashlib.sha256).digest(),
        hmac.new(secret, b"pictograph connector key: authentication", hashlib.sha256).digest(),
    )


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    stream = b"".join(
        hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        for counter in range(blocks)
    )
    return stream[:length]


def seal(ctx: ServerContext, plaintext: str) -> str:
    enc, mac = _secret_keys(ctx)
    nonce = secrets.token_bytes(16)
    data = plaintext.encode()
    cipher = bytes(a ^ b for a, b in zip(data, _keystream(enc, nonce, len(data)), strict=True))
    tag = hmac.new(mac, nonce + cipher, hashlib.sha256).digest()
    parts = (nonce, cipher, tag)
    return "v1." + ".".join(base64.urlsafe_b64encode(p).decode() for p in parts)


def unseal(ctx: ServerContext, token: Any) -> str:
    if not isinstance(token, str) or not token.startswith("v1."):
        raise ImportFailed("The remote API key is no longer available; start the import again")
    try:
        nonce, cipher, tag = (base64.urlsafe_b64decode(p) for p in token[3:].split("."))
    except ValueError as error:
        raise ImportFailed("The stored remote API key is unreadable; start the import again") from error
    enc, mac = _secret_keys(ctx)
    if not hmac.compare_digest(tag, hmac.new(mac, nonce + cipher, hashlib.sha256).digest()):
        raise ImportFailed("The stored remote API key does not verify; start the import again")
    return bytes(a ^ b for a, b in zip(cipher, _keystream(enc, nonce, len(cipher)), strict=True)).decode()


# ───────────── validate ─────────────


def check_provider(provider: Any) -> str:
    if provider not in PROVIDERS:
        raise Invalid(
            f"Invalid provider {provider!r}; expected one of {', '.join(PROVIDERS)}", loc=["provider"]
        )
    return provider


def check_api_key(api_key: Any) -> str:
    if not isinstance(api_key, str) or not api_key.strip():
        raise Invalid("api_key must be the source provider's API key", loc=["api_key"])
    if len(api_key) > 1000 or any(ord(ch) < 32 for ch in api_key):
        raise Invalid("api_key is not a valid API key", loc=["api_key"])
    return api_key.strip()


def _connector(ctx: ServerContext, provider: str, api_key: str) -> Any:
    return connector_for(
        provider,
        api_key,
        v7_base_url=ctx.settings.v7_base_url,
        roboflow_base_url=ctx.settings.roboflow_base_url,
    )


def validate(ctx: ServerContext, principal: Principal, provider: Any, api_key: Any) -> dict[str, Any]:
    """``ValidationResult``: the remote datasets, or ``valid: false`` with the remote's reason."""
    require(principal.role, "member", "Validating a connector")
    provider = check_provider(provider)
    api_key = check_api_key(api_key)
    try:
        with _connector(ctx, provider, api_key) as remote:
            listing = remote.list_datasets()
    except RemoteAuthError as error:
        return {"valid": False, "workspace": "", "datasets": [], "error": f"Invalid API key: {error}"}
    except RemoteError as error:
        return {"valid": False, "workspace": "", "datasets": [], "error": str(error)}
    return {
        "valid": True,
        "provider": provider,
        "workspace": listing.workspace,
        "datasets": [d.as_json() for d in listing.datasets],
        "error": None,
    }


# ───────────── tier caps ─────────────


def caps(org: Organization) -> tuple[int, int]:
    images, storage = TIER_CAPS.get(org.subscription_tier, TIER_CAPS["free"])
    if org.max_images and org.max_images > 0:
        images = int(org.max_images)
    if org.max_storage_bytes and org.max_storage_bytes > 0:
        storage = int(org.max_storage_bytes)
    return images, storage


def usage(session: Session, organization_id: str) -> tuple[int, int]:
    """(images, stored bytes) the organization holds now, archived images included."""
    count, size = session.execute(
        select(func.count(Image.id), func.coalesce(func.sum(Image.file_size), 0)).where(
            Image.organization_id == organization_id
        )
    ).one()
    return int(count or 0), int(size or 0)


def limit_check(session: Session, organization_id: str, total_images: int, size_bytes: int) -> dict[str, Any]:
    org = session.get(Organization, organization_id)
    if org is None:  # pragma: no cover - the key's organization exists
        raise NotFound("Organization not found")
    image_limit, storage_limit = caps(org)
    current_images, current_bytes = usage(session, organization_id)
    images_after = current_images + max(0, total_images)
    bytes_after = current_bytes + max(0, size_bytes)
    over_images = images_after > image_limit
    over_storage = bytes_after > storage_limit
    exceeded = "both" if over_images and over_storage else "images" if over_images else "storage" if over_storage else None
    return {
        "allowed": exceeded is None,
        "tier": org.subscription_tier,
        "current_images": current_images,
        "image_limit": image_limit,
        "images_after_import": images_after,
        "current_storage_bytes": current_bytes,
        "storage_limit_bytes": storage_limit,
        "storage_after_import_bytes": bytes_after,
        "exceeded": exceeded,
    }


def check_limits(session: Session, principal: Principal, total_images: Any, size_bytes: Any) -> dict[str, Any]:
    for value, loc in ((total_images, "total_images"), (size_bytes, "estimated_size_bytes")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Invalid(f"{loc} must be a non-negative integer", loc=[loc])
    return limit_check(session, principal.organization_id, total_images, size_bytes)


def enforce_limits(session: Session, organization_id: str, total_images: int, size_bytes: int) -> None:
    """402 when an import of this size would pass the organization's caps."""
    check = limit_check(session, organization_id, total_images, size_bytes)
    if check["allowed"]:
        return
    if check["exceeded"] in ("images", "both"):
        detail = (
            f"Importing {total_images} images would take the organization to "
            f"{check['images_after_import']} images; the {check['tier']} tier allows {check['image_limit']}"
        )
        required, remaining = check["images_after_import"], check["image_limit"] - check["current_images"]
    else:
        detail = (
            f"Importing would take storage to {check['storage_after_import_bytes']} bytes; "
            f"the {check['tier']} tier allows {check['storage_limit_bytes']}"
        )
        required, remaining = check["storage_after_import_bytes"], check["storage_limit_bytes"] - check["current_storage_bytes"]
    raise TierLimitExceeded(
        detail,
        required=required,
        remaining=max(0, remaining),
        upgrade_url=UPGRADE_URL,
        exceeded=check["exceeded"],
        limits=check,
    )


# ───────────── start ─────────────


def _requested(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise Invalid("datasets must be a non-empty list of remote datasets", loc=["datasets"])
    if len(raw) > MAX_DATASETS:
        raise Invalid(f"At most {MAX_DATASETS} datasets per import", loc=["datasets"])
    result = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise Invalid("Each dataset must be an object with id, name and slug", loc=["datasets", index])
        ident = entry.get("id")
        if not isinstance(ident, (str, int)) or isinstance(ident, bool) or str(ident).strip() == "":
            raise Invalid("Each dataset needs its remote id", loc=["datasets", index, "id"])
        version = entry.get("version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            raise Invalid("version must be a positive integer", loc=["datasets", index, "version"])
        target = entry.get("target_name")
        if target is not None and not isinstance(target, str):
            raise Invalid("target_name must be a string", loc=["datasets", index, "target_name"])
        result.append({**entry, "id": str(ident)})
    return result


def _match(requested: dict[str, Any], listing: list[RemoteDatasetInfo], index: int, provider: str) -> RemoteDatasetInfo:
    ident, slug = requested["id"], requested.get("slug")
    for remote in listing:
        if remote.id == ident or (slug and remote.slug == slug and remote.id.endswith(ident)):
            return remote
    raise Invalid(
        f"{PROVIDER_NAMES[provider]} has no dataset {ident!r} for this API key "
        "(list them with connectors.validate)",
        loc=["datasets", index, "id"],
    )


def start_import(
    ctx: ServerContext, principal: Principal, provider: Any, api_key: Any, datasets: Any
) -> Job:
    """Check the key and the datasets with the remote, the caps, create the targets, enqueue."""
    require(principal.role, "member", "Importing from a connector")
    provider = check_provider(provider)
    api_key = check_api_key(api_key)
    requested = _requested(datasets)
    try:
        with _connector(ctx, provider, api_key) as remote:
            listing = remote.list_datasets()
    except RemoteAuthError as error:
        raise ConnectorAuthFailed(f"{PROVIDER_NAMES[provider]} rejected the API key: {error}") from error
    except RemoteError as error:
        raise RemoteUnavailable(str(error)) from error
    rows: list[dict[str, Any]] = []
    seen_targets: set[str] = set()
    for index, entry in enumerate(requested):
        remote = _match(entry, listing.datasets, index, provider)
        target = entry.get("target_name") or remote.name
        if target in seen_targets:
            raise Invalid(f"Two datasets would import into {target!r}; give one a target_name", loc=["datasets", index])
        seen_targets.add(target)
        rows.append({
            "remote_id": remote.id,
            "remote_name": remote.name,
            "slug": remote.slug,
            "version": entry.get("version") or remote.version,
            "image_count": remote.image_count,
            "name": target,
            "project_id": "",
            "dataset_created": False,
            "status": "pending",
            "imported": 0,
            "failed": 0,
            "skipped": 0,
            "annotations_imported": 0,
            "report": None,
            "error": None,
        })
    total = sum(row["image_count"] for row in rows)
    with ctx.db.session() as session:
        enforce_limits(session, principal.organization_id, total, 0)
        for index, row in enumerate(rows):
            project_id, created = prepare_dataset(
                session, principal, row["name"], create_if_missing=True, loc=["datasets", index, "name"]
            )
            row["project_id"], row["dataset_created"] = project_id, created
        payload = {
            "provider": provider,
            "secret": seal(ctx, api_key),
            "api_key_id": principal.api_key_id,
            "role": principal.role,
            "workspace": listing.workspace,
            "work_dir": uuid.uuid4().hex,
            "datasets": rows,
            "current_dataset": "",
        }
        job = enqueue(session, principal.organization_id, KIND, payload, total=total)
        session.flush()
        session.expunge(job)
    if ctx.jobs is not None:
        ctx.jobs.wake()
    return job


# ───────────── status / cancel ─────────────


def get_import(session: Session, principal: Principal, import_id: str) -> Job:
    if not isinstance(import_id, str) or "\x00" in import_id:
        raise NotFound(f"Import {import_id!r} not found")
    try:
        return get_job(session, principal.organization_id, import_id, KIND)
    except NotFound:
        raise NotFound(f"Import {import_id!r} not found") from None


def list_imports(session: Session, principal: Principal, limit: int, offset: int) -> tuple[list[Job], int]:
    where = (Job.organization_id == principal.organization_id, Job.kind == KIND)
    total = session.scalar(select(func.count()).select_from(Job).where(*where)) or 0
    jobs = session.scalars(
        select(Job).where(*where).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
    ).all()
    return list(jobs), int(total)


def cancel_import(ctx: ServerContext, principal: Principal, import_id: str) -> dict[str, Any]:
    """Stop the import (already-imported images stay) and wait briefly for it to stop."""
    require(principal.role, "member", "Cancelling an import")
    with ctx.db.session() as session:
        job = get_import(session, principal, import_id)
        if job.status == "pending":
            job.payload = {**(job.payload or {}), "secret": None}
        request_cancel(session, job)
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    while time.monotonic() < deadline:
        with ctx.db.session() as session:
            job = get_import(session, principal, import_id)
            if job.status in ("completed", "failed", "cancelled"):
                break
        time.sleep(0.1)
    return {"import_id": import_id, "status": STATUS_MAP.get(job.status, "processing")}


def _dataset_row(row: dict[str, Any]) -> dict[str, Any]:
    report = row.get("report") or {}
    return {
        "name": row.get("name", ""),
        "dataset_name": row.get("name", ""),
        "project_id": row.get("project_id", ""),
        "dataset_id": row.get("project_id", ""),
        "remote_id": row.get("remote_id"),
        "remote_name": row.get("remote_name"),
        "version": row.get("version"),
        "status": row.get("status", "pending"),
        "imported": int(row.get("imported", 0)),
        "images_imported": int(row.get("imported", 0)),
        "failed": int(row.get("failed", 0)),
        "images_failed": int(row.get("failed", 0)),
        "images_skipped": int(row.get("skipped", 0)),
        "total_images": int(row.get("image_count", 0)),
        "annotations_imported": int(row.get("annotations_imported", 0)),
        "skipped": dict(report.get("skipped") or {}),
        "classes_created": list(report.get("classes_created") or []),
        "errors": list(report.get("errors") or [])[:100],
        "error": row.get("error"),
    }


def import_json(job: Job) -> dict[str, Any]:
    """The ``ImportJob`` shape of a connector job."""
    payload = job.payload or {}
    rows = [_dataset_row(row) for row in payload.get("datasets", [])]
    total = max(int(job.progress_total or 0), sum(r["total_images"] for r in rows))
    finished = int(job.progress_done or 0) + int(job.progress_failed or 0)
    status = STATUS_MAP.get(job.status, "processing")
    progress = 100.0 if status == "completed" else (min(100.0, 100.0 * finished / total) if total else 0.0)
    return {
        "import_id": job.id,
        "id": job.id,
        "job_id": job.id,
        "provider": payload.get("provider"),
        "workspace": payload.get("workspace", ""),
        "status": status,
        "job_status": job.status,
        "progress": round(progress, 2),
        "total_images": total,
        "imported_images": sum(r["imported"] for r in rows),
        "failed_images": sum(r["failed"] for r in rows),
        "skipped_images": sum(r["images_skipped"] for r in rows),
        "annotations_imported": sum(r["annotations_imported"] for r in rows),
        "current_dataset": payload.get("current_dataset", "") or "",
        "datasets": rows,
        "error": job.error_message,
        "error_message": job.error_message,
        "cancel_requested": bool(job.cancel_requested),
        "created_at": as_utc(job.created_at).isoformat(),
        "started_at": as_utc(job.started_at).isoformat() if job.started_at else None,
        "finished_at": as_utc(job.finished_at).isoformat() if job.finished_at else None,
    }


# ───────────── the job ─────────────


def run_job(job: JobContext) -> dict[str, Any]:
    """The ``connector_import`` handler: each requested dataset in turn, resumable."""
    ctx = job.server
    payload = job.payload
    rows: list[dict[str, Any]] = payload.get("datasets", [])
    work = work_dir(ctx, payload.get("work_dir", ""))
    principal = job_principal(payload, job.organization_id)
    finished_cleanly = False
    try:
        api_key = unseal(ctx, payload.get("secret"))
        with _connector(ctx, payload["provider"], api_key) as remote:
            for index, row in enumerate(rows):
                if row.get("status") in ("completed", "error"):
                    continue
                row["status"] = "processing"
                job.update_payload(datasets=rows, current_dataset=row["name"])
                try:
                    if payload["provider"] == "v7":
                        report = _import_v7(job, remote, row, index, work / f"ds{index}", principal)
                    else:
                        report = _import_roboflow(job, remote, row, index, work / f"ds{index}", principal)
                except JobCancelled:
                    row["status"], row["error"] = "error", "cancelled before this dataset finished"
                    raise
                except (RemoteError, ImportFailed, ServiceError) as error:
                    logger.warning("connector import %s: dataset %s failed: %s", job.job_id, row["name"], error)
                    row["status"], row["error"] = "error", _describe(error)
                else:
                    _apply_report(row, report)
                    row["status"] = "completed"
                job.update_payload(datasets=rows)
                remove_tree(work / f"ds{index}")
        finished_cleanly = True
    finally:
        job.update_payload(datasets=rows, secret=None, current_dataset="")
        remove_tree(work)
        if finished_cleanly:
            processed = sum(int(r.get("imported", 0)) + int(r.get("skipped", 0)) + int(r.get("failed", 0)) for r in rows)
            job.set_total(processed)
    failures = [r for r in rows if r.get("status") == "error"]
    if failures and len(failures) == len(rows):
        raise ImportFailed("; ".join(f"{r['name']}: {r.get('error')}" for r in failures))
    return {"datasets": [_dataset_row(r) for r in rows]}


def _describe(error: Exception) -> str:
    if isinstance(error, ServiceError):
        return error.detail
    return str(error)


def _apply_report(row: dict[str, Any], report: dict[str, Any]) -> None:
    row["report"] = report
    row["imported"] = report.get("images_imported", 0)
    row["failed"] = report.get("images_failed", 0)
    row["skipped"] = report.get("images_skipped", 0)
    row["annotations_imported"] = report.get("annotations_imported", 0)


def _progress_saver(job: JobContext, rows: list[dict[str, Any]], row: dict[str, Any]) -> Any:
    def save(report: dict[str, Any]) -> None:
        _apply_report(row, report)
        job.update_payload(datasets=rows)

    return save


def _limits(ctx: ServerContext) -> ArchiveLimits:
    return ArchiveLimits.for_settings(ctx.settings.import_max_bytes)


def _fetch_export(job: JobContext, remote: Any, url: str, root: Path, target: Path) -> None:
    """Download the export ZIP and extract it safely into ``target`` (once; a marker remembers)."""
    marker = root / ".extracted"
    if marker.exists():
        return
    ctx = job.server
    archive = root / "export.zip"
    remote.download(url, archive, max_bytes=ctx.settings.import_max_bytes, heartbeat=job.heartbeat)
    remove_tree(target)
    extract_archive(archive, target, _limits(ctx))
    archive.unlink(missing_ok=True)
    marker.touch()


def _run(job: JobContext, row: dict[str, Any], index: int, root: Path, fmt: str, principal: Principal, **extra: Any) -> dict[str, Any]:
    rows = job.payload["datasets"]
    previous = row.get("report") or {}
    run = ImportRun(
        job=job,
        root=root,
        fmt=fmt,
        project_id=row["project_id"],
        dataset_name=row["name"],
        principal=principal,
        key_prefix=f"{index}:",
        dataset_created=bool(row.get("dataset_created")),
        classes_created=list(previous.get("classes_created") or []),
        on_progress=_progress_saver(job, rows, row),
        **extra,
    )
    return run.run()


def _import_v7(job: JobContext, remote: Any, row: dict[str, Any], index: int, root: Path, principal: Principal) -> dict[str, Any]:
    rows = job.payload["datasets"]
    annotations, images = root / "annotations", root / "images"
    if not (root / ".extracted").exists():
        if not row.get("export_name"):
            row["export_name"] = f"pictograph-{job.job_id[:8]}-{index}"
            remote.start_export(row["slug"], row["export_name"])
            job.update_payload(datasets=rows)
        url = remote.wait_for_export(
            row["slug"], row["export_name"],
            poll_seconds=EXPORT_POLL_SECONDS, timeout=EXPORT_TIMEOUT_SECONDS, heartbeat=job.heartbeat,
        )
        root.mkdir(parents=True, exist_ok=True)
        _fetch_export(job, remote, url, root, annotations)
    with V7Images(job, remote, annotations, images, f"{index}:") as files:
        return _run(job, row, index, root, "v7", principal, item_check=files.check)


class V7Images:
    """Fetches the export's item files a window ahead of the import, in parallel.

    The reader and :meth:`V7Client.items` walk the same sorted JSON files, so fetching in
    that order keeps the next items ready; ``check`` (the import's per-item hook) waits for
    the item's own file and points the item at it, or says why there is none.
    """

    def __init__(self, job: JobContext, remote: Any, annotations: Path, images: Path, prefix: str) -> None:
        self.job = job
        self.remote = remote
        self.max_bytes = job.server.settings.max_upload_bytes
        done = job.done_items()
        self.order: list[Any] = []
        self.reasons: dict[tuple[str, str], str] = {}
        self.paths: dict[tuple[str, str], Path] = {}
        self.position: dict[tuple[str, str], int] = {}
        for item in remote.items(annotations):
            where = (item.folder, item.name)
            if item_key(prefix, item.folder, item.name) in done:
                continue
            if item.url is None:
                self.reasons[where] = item.reason or "v7 item without a file"
                continue
            path = remote.image_path(images, item)
            if path is None:
                continue  # the reader reports the unusable name
            self.paths[where] = path
            self.position[where] = len(self.order)
            self.order.append(item)
        self.futures: dict[int, Future[None]] = {}
        self.submitted = 0
        self.pool = ThreadPoolExecutor(max_workers=DOWNLOAD_WORKERS, thread_name_prefix="v7-download")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _fetch(self, item: Any, path: Path) -> None:
        if not path.exists():
            self.remote.download(item.url, path, max_bytes=self.max_bytes)

    def _submit_until(self, position: int) -> None:
        while self.submitted < len(self.order) and self.submitted <= position + PREFETCH_WINDOW:
            item = self.order[self.submitted]
            path = self.paths[(item.folder, item.name)]
            self.futures[self.submitted] = self.pool.submit(self._fetch, item, path)
            self.submitted += 1

    def check(self, item: Any) -> tuple[str, str] | None:
        where = (item.folder or "/", item.filename)
        if where in self.reasons:
            return "skipped", self.reasons[where]
        position = self.position.get(where)
        if position is None:
            return None
        self._submit_until(position)
        future = self.futures.pop(position)
        while True:
            finished, _ = wait([future], timeout=2.0)
            if finished:
                break
            self.job.heartbeat()
        error = future.exception()
        if error is not None:
            relative = f"{where[0].strip('/')}/{where[1]}".lstrip("/")
            return "failed", f"{relative}: download from V7 failed: {error}"
        item.source = self.paths[where]
        return None


def _import_roboflow(job: JobContext, remote: Any, row: dict[str, Any], index: int, root: Path, principal: Principal) -> dict[str, Any]:
    rows = job.payload["datasets"]
    data = root / "data"
    if not (root / ".extracted").exists():
        project_path = remote.project_path(row["remote_id"], row.get("slug") or "")
        if not row.get("version"):
            row["version"] = remote.latest_version(project_path)
            job.update_payload(datasets=rows)
        link = remote.export_link(
            project_path, int(row["version"]),
            poll_seconds=EXPORT_POLL_SECONDS, timeout=EXPORT_TIMEOUT_SECONDS, heartbeat=job.heartbeat,
        )
        root.mkdir(parents=True, exist_ok=True)
        _fetch_export(job, remote, link, root, data)
    return _run(job, row, index, import_service.content_root(data), "coco", principal)


__all__ = [
    "KIND",
    "TIER_CAPS",
    "RemoteNotFound",
    "cancel_import",
    "check_limits",
    "enforce_limits",
    "get_import",
    "import_json",
    "run_job",
    "start_import",
    "validate",
]
