"""The baseline for the sm_pytorch pipeline's speed: the smp U-Net trained by a bare loop
(forward, cross-entropy, backward, step), as smp's own examples do it.

Same model, initialisation, optimiser and schedule, batches and preprocessing (images and
class maps resized once, then normalised and mirrored per batch) as
:mod:`pictograph.training.semantic`, timed the same way (model construction and preprocessing
included), so the ratio of the pipeline's seconds per epoch to this one's is the cost of the
shared loop (loss bookkeeping, gradient clipping, progress reports).
"""

from __future__ import annotations

import math
import time

from pictograph.training.base import TrainConfig
from pictograph.training.data import TrainingData
from pictograph.training.images import IMAGENET_MEAN, IMAGENET_STD, flip_half, normalise
from pictograph.training.loop import batches, seed_everything
from pictograph.training.semantic import build_model, make_optimizer, prepare


def minimal_loop_seconds_per_epoch(
    data: TrainingData, config: TrainConfig, epochs: int, device: str = "cpu"
) -> float:
    """Mean wall seconds per epoch over ``data.train``, model construction included."""
    import torch

    started = time.perf_counter()
    seed_everything()
    model = build_model(len(data.classes)).to(device)
    images, targets = prepare(data.train, config.image_size)
    steps = epochs * math.ceil(len(data.train) / config.batch_size)
    optimizer, scheduler = make_optimizer(model, config, steps)
    criterion = torch.nn.CrossEntropyLoss()
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in batches(range(len(data.train)), config.batch_size, shuffle=True, epoch=epoch):
            inputs = torch.from_numpy(normalise(images[batch], IMAGENET_MEAN, IMAGENET_STD))
            labels = torch.from_numpy(targets[batch])
            inputs, labels = flip_half(inputs.to(device), labels.to(device))
            loss = criterion(model(inputs), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    return (time.perf_counter() - started) / epochs
