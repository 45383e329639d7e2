"""Start the server with uvicorn: what ``pictograph server start`` calls."""

from __future__ import annotations

import uvicorn

from pictograph.server.app import create_app
from pictograph.server.settings import Settings


def serve(settings: Settings, *, log_level: str = "info") -> None:
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)


def main() -> None:
    """``python -m pictograph.server.run``: serve with settings from the environment only."""
    serve(Settings())


if __name__ == "__main__":
    main()
