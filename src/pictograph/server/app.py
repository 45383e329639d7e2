"""``create_app(settings)``: the FastAPI application with its middleware and routers."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pictograph import __version__
from pictograph.server.auth import Authenticator
from pictograph.server.bootstrap import bootstrap
from pictograph.server.context import ServerContext
from pictograph.server.db.engine import Database
from pictograph.server.db.migrate import upgrade
from pictograph.server.errors import ServiceError
from pictograph.server.gate import ApiGate
from pictograph.server.idempotency import IdempotencyStore
from pictograph.server.jobs.runner import JobRunner
from pictograph.server.ratelimit import MemoryCounter, RateLimiter, RedisCounter
from pictograph.server.search.scheduling import INDEX_QUEUE, schedule_sweep
from pictograph.server.security import UrlSigner, load_or_create_secret
from pictograph.server.services.training import LOCAL_QUEUE as LOCAL_TRAINING_QUEUE
from pictograph.server.settings import Settings
from pictograph.server.storage import LocalBlobStore

logger = logging.getLogger("pictograph.server")

API_PREFIX = "/api/v1/developer"

# (module under pictograph.server.routes, URL prefix)
ROUTERS: list[tuple[str, str]] = [
    ("health", ""),
    ("blobs", ""),
    ("datasets", API_PREFIX),
    ("projects", API_PREFIX),
    ("images", API_PREFIX),
    ("annotations", API_PREFIX),
    ("batch", API_PREFIX),
    ("organizations", API_PREFIX),
    ("credits", API_PREFIX),
    ("exports", API_PREFIX),
    ("imports", API_PREFIX),
    ("connectors", API_PREFIX),
    ("webhooks", API_PREFIX),
    ("auto_annotate", API_PREFIX),
    ("training", API_PREFIX),
    ("models", API_PREFIX),
    ("search", API_PREFIX),
    ("video", API_PREFIX),
    ("tools", API_PREFIX),
    ("api_keys", "/api/v1"),
]


# Modules whose import registers job handlers (pictograph.server.jobs.handler).
JOB_HANDLER_MODULES: list[str] = [
    "pictograph.server.jobs.export_job",
    "pictograph.server.jobs.import_job",
    "pictograph.server.jobs.training_job",
    "pictograph.server.jobs.webhook_job",
    "pictograph.server.jobs.auto_label_job",
    "pictograph.server.jobs.video_job",
    "pictograph.server.jobs.index_job",
]


def build_context(settings: Settings) -> ServerContext:
    """Open (and migrate) the database and blob store; create the first org on an empty install."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    upgrade(settings.resolved_database_url)
    ctx = ServerContext(
        settings=settings,
        db=db,
        blobs=LocalBlobStore(settings.blob_dir),
        signer=UrlSigner(load_or_create_secret(settings.data_dir / "signing.key")),
        authenticator=Authenticator(db),
    )
    bootstrap(ctx)
    IdempotencyStore(db, settings.idempotency_ttl_seconds).purge_expired()
    # Prepared now, before any job runs: pgvector's DDL must not wait on a job's open transaction.
    ctx.vector_index()
    return ctx


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    ctx = build_context(settings)
    app = FastAPI(title="Pictograph", version=__version__, docs_url="/docs", redoc_url=None)
    app.state.ctx = ctx

    limiter = None
    if settings.rate_limit_enabled:
        counter = RedisCounter(settings.redis_url) if settings.redis_url else MemoryCounter()
        limiter = RateLimiter(counter)
    app.add_middleware(
        ApiGate,
        authenticator=ctx.authenticator,
        limiter=limiter,
        idempotency=IdempotencyStore(ctx.db, settings.idempotency_ttl_seconds),
    )
    _install_error_handlers(app)
    for module_name, prefix in ROUTERS:
        module = importlib.import_module(f"pictograph.server.routes.{module_name}")
        app.include_router(module.router, prefix=prefix)

    for module_name in JOB_HANDLER_MODULES:
        importlib.import_module(module_name)
    if settings.job_workers:
        ctx.jobs = JobRunner(ctx, workers=settings.job_workers, lease_seconds=settings.job_lease_seconds)
    if settings.training_workers:
        ctx.training_jobs = JobRunner(
            ctx, workers=settings.training_workers, queues=(LOCAL_TRAINING_QUEUE,),
            lease_seconds=settings.job_lease_seconds,
        )  # fmt: skip
    if settings.index_images and settings.index_workers:
        ctx.index_jobs = JobRunner(
            ctx, workers=settings.index_workers, queues=(INDEX_QUEUE,),
            lease_seconds=settings.job_lease_seconds,
        )  # fmt: skip
    runners = [ctx.jobs, ctx.training_jobs, ctx.index_jobs]

    @app.on_event("startup")
    def _start_jobs() -> None:
        if settings.index_images:
            with ctx.db.session() as session:
                schedule_sweep(session)
        for runner in runners:
            if runner is not None:
                runner.start()

    @app.on_event("shutdown")
    def _close() -> None:
        for runner in runners:
            if runner is not None:
                runner.stop()
        ctx.vector_index().flush()
        ctx.db.dispose()

    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, error: ServiceError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [_field_error(e) for e in error.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"])
        body = {
            "detail": f"{where}: {first['msg']}" if where else first["msg"],
            "error_code": "validation_error",
            "errors": errors,
        }
        return JSONResponse(jsonable_encoder(body), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return JSONResponse(
            {"detail": str(error.detail), "error_code": code},
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=error)
        return JSONResponse(
            {"detail": "Internal server error", "error_code": "internal_error"}, status_code=500
        )


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's error minus the noise: ``loc`` without the transport prefix, ``msg``, ``type``."""
    loc = list(error.get("loc", []))
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:] or loc
    return {"loc": loc, "msg": error.get("msg", ""), "type": error.get("type", "value_error")}
