"""``/api/v1/developer/tools(.json)``: the agent tool registry for dynamic-discovery agents.

The server serves a snapshot file rather than importing ``pictograph.agents``: the registry
pulls in the SDK and its workflows, which the server has no other use for, and a snapshot is
what a server deployed apart from the SDK would ship. ``scripts/generate_tools_snapshot.py``
writes it from the registry and ``--check`` (run by the tests) fails when the two drift.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from pictograph.server.routes.deps import Caller

SNAPSHOT = Path(__file__).with_name("tools_snapshot.json")

router = APIRouter(tags=["tools"])


@cache
def snapshot() -> dict[str, Any]:
    """The snapshot, read once per process: it only changes with a release."""
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


@router.get("/tools")
@router.get("/tools/", include_in_schema=False)
@router.get("/tools.json", include_in_schema=False)
def list_tools(caller: Caller) -> dict[str, Any]:
    """Any role may read the registry; ``caller`` only enforces the key (401 without one)."""
    return snapshot()
