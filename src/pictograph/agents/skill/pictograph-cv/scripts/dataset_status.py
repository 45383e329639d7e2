"""Show one dataset: image count, how many are complete, its classes and a few image names."""

from __future__ import annotations

import argparse
from typing import Any

from _common import run

from pictograph import Client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="dataset name (case-sensitive)")
    parser.add_argument("--images", type=int, default=10, help="image names to include")
    args = parser.parse_args()

    def action(client: Client) -> dict[str, Any]:
        dataset = client.datasets.get(
            args.name, include_images=args.images > 0, images_limit=max(args.images, 1)
        )
        return {
            "name": dataset.name,
            "images": dataset.image_count,
            "completed": dataset.completed_image_count,
            "classes": [{"name": c.name, "type": c.type} for c in dataset.classes],
            "sample_images": [image.filename for image in dataset.images or []],
        }

    run(action)


if __name__ == "__main__":
    main()
