"""Start the server with uvicorn: what ``pictograph server start`` calls."""

from __future__ import annotations

import os

import uvicorn

from pictograph.server.app import build_context, create_app
from pictograph.server.settings import Settings


def serve(settings: Settings, *, log_level: str = "info") -> None:
    """Serve in this process, or in ``settings.workers`` processes sharing the port.

    Worker processes rebuild their settings from the environment, so the resolved settings
    are exported first; migrations and the first-start bootstrap run once, here, before
    any worker starts. Rate-limit windows are per process unless PICTOGRAPH_REDIS_URL is set.
    """
    if settings.workers <= 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=log_level)
        return
    build_context(settings).db.dispose()
    for name, value in settings.model_dump().items():
        if value is not None:
            os.environ[f"PICTOGRAPH_{name.upper()}"] = str(value)
    os.environ["PICTOGRAPH_BOOTSTRAP_API_KEY"] = ""
    uvicorn.run(
        "pictograph.server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=log_level,
    )


def main() -> None:
    """``python -m pictograph.server.run``: serve with settings from the environment only."""
    serve(Settings())


if __name__ == "__main__":
    main()
