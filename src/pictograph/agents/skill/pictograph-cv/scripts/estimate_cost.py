"""Price a paid operation against the credit balance before running it.

Operations: training_a10g_per_minute, training_a100_per_minute, training_h100_per_minute,
sam3_auto_annotation (per image), sam3_prompt, sam3_session, image_inference. Go ahead only
when "sufficient" is true and the user agreed to the cost.
"""

from __future__ import annotations

import argparse

from _common import run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("operation", help="operation to price, e.g. training_a10g_per_minute")
    parser.add_argument("--quantity", type=int, default=1, help="minutes, images or prompts")
    args = parser.parse_args()
    run(lambda client: client.credits.estimate(args.operation, quantity=args.quantity))


if __name__ == "__main__":
    main()
