"""What every script shares: a Client from the environment, JSON on stdout, errors on stderr.

Scripts import this as a sibling module (Python puts a script's own folder on ``sys.path``), so
the skill folder works wherever it is copied.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from pictograph import Client
from pictograph.exceptions import PictographError


def run(action: Callable[[Client], Any]) -> None:
    """Run ``action`` with a Client (``PICTOGRAPH_API_KEY`` / ``PICTOGRAPH_BASE_URL``) and print
    its result as JSON; an SDK error becomes one ``error:`` line and exit status 1, which an
    agent reads more easily than a traceback."""
    try:
        with Client() as client:
            result = action(client)
    except PictographError as error:
        print(f"error: {type(error).__name__}: {error.message}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(jsonable(result), indent=2, default=str))


def jsonable(value: Any) -> Any:
    """Pydantic models and lists of them as plain JSON data."""
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value
