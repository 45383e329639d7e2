"""List the organization's datasets with their image counts and annotation progress.

Use it first: it confirms the API key works and shows the exact (case-sensitive) dataset names.
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import run

from pictograph import Client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contains", help="only names containing this text (case-insensitive)")
    parser.add_argument("--limit", type=int, default=100, help="most datasets to list")
    args = parser.parse_args()

    def action(client: Client) -> list[dict[str, Any]]:
        wanted = (args.contains or "").lower()
        return [
            {
                "name": dataset.name,
                "images": dataset.image_count,
                "completed": dataset.completed_image_count,
                "classes": [c.name for c in dataset.classes],
            }
            for dataset in client.datasets.list(limit=args.limit)
            if wanted in dataset.name.lower()
        ]

    run(action)


if __name__ == "__main__":
    main()
