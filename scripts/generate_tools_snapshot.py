"""Write (or with ``--check`` verify) the server's tools snapshot from the SDK's agent registry.

    python scripts/generate_tools_snapshot.py           # regenerate after changing a tool
    python scripts/generate_tools_snapshot.py --check   # exit 1 when snapshot and registry drift

``generated_at`` is ignored by the comparison: only the tools, version and count are content.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pictograph.agents.registry import tools_payload

SNAPSHOT = (
    Path(__file__).resolve().parents[1]
    / "src" / "pictograph" / "server" / "routes" / "tools_snapshot.json"
)


def content(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without its timestamp, which differs on every generation."""
    return {key: value for key, value in payload.items() if key != "generated_at"}


def drifted(path: Path = SNAPSHOT) -> bool:
    """Whether the snapshot at ``path`` is missing or differs from the registry."""
    if not path.exists():
        return True
    return content(json.loads(path.read_text(encoding="utf-8"))) != content(tools_payload())


def write(path: Path = SNAPSHOT) -> None:
    path.write_text(json.dumps(tools_payload(), indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    parser.add_argument("--path", type=Path, default=SNAPSHOT, help="snapshot file")
    args = parser.parse_args(argv)
    if args.check:
        if drifted(args.path):
            print(
                f"{args.path} is out of date with pictograph.agents.registry: run "
                "python scripts/generate_tools_snapshot.py",
                file=sys.stderr,
            )
            return 1
        print(f"{args.path} matches the registry")
        return 0
    write(args.path)
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
