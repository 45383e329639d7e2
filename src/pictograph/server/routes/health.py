"""Liveness and version: no authentication, used by the CLI and load balancers."""

from __future__ import annotations

from fastapi import APIRouter

from pictograph import __version__

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}
