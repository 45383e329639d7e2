"""Upload every image under a folder (recursively) to a dataset, creating it when missing.

Subfolders become virtual folders; files already in the dataset are skipped, so re-running
after a failure only uploads what is missing.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from _common import run

from pictograph import Client
from pictograph.workflows import upload_dataset_from_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", help="local folder of images")
    parser.add_argument("--dataset", required=True, help="dataset name")
    parser.add_argument("--workers", type=int, default=8, help="parallel uploads")
    args = parser.parse_args()

    def action(client: Client) -> dict[str, Any]:
        report = upload_dataset_from_folder(
            client, args.dataset, args.folder, max_workers=args.workers
        )
        return {**dataclasses.asdict(report), "success": report.success}

    run(action)


if __name__ == "__main__":
    main()
