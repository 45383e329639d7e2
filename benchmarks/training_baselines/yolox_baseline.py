"""The baseline for the yolox pipeline's speed: YOLOX trained by a bare loop, as its own
trainer does it per iteration (forward with targets, ``total_loss``, backward, step).

Same model, initialisation, optimiser, batches and preprocessing as
:mod:`pictograph.training.yolox`, so the ratio of the pipeline's seconds per epoch to this
one's is the cost of the shared loop (loss bookkeeping, gradient clipping, the LR schedule,
progress reports).
"""

from __future__ import annotations

import random
import time

from pictograph.training.base import TrainConfig
from pictograph.training.data import TrainingData
from pictograph.training.loop import seed_everything
from pictograph.training.yolox import WEIGHT_DECAY, batch_inputs, build_model, input_size


def minimal_loop_seconds_per_epoch(
    data: TrainingData, config: TrainConfig, epochs: int, device: str = "cpu"
) -> float:
    """Mean wall seconds of ``epochs`` epochs over ``data.train`` (first epoch included, as
    the pipeline's own figures include it)."""
    import torch

    seed_everything()
    size = input_size(config.image_size)
    model = build_model(len(data.classes)).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=WEIGHT_DECAY
    )
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = list(range(len(data.train)))
        random.Random(epoch).shuffle(order)
        for start in range(0, len(order), config.batch_size):
            samples = [data.train[index] for index in order[start : start + config.batch_size]]
            images, targets = batch_inputs(samples, size, device)
            loss = model(images, targets)["total_loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return (time.perf_counter() - started) / epochs
