"""The baseline for the classification pipeline's speed: the timm model trained by a bare loop
(forward, cross-entropy, backward, step), as timm's own examples do it.

Same model, initialisation, optimiser and schedule, batches and preprocessing (images resized
once, then normalised and mirrored per batch) as :mod:`pictograph.training.classification`,
timed the same way (model construction and preprocessing included), so the ratio of the
pipeline's seconds per epoch to this one's is the cost of the shared loop (loss bookkeeping,
gradient clipping, progress reports).
"""

from __future__ import annotations

import math
import time

from pictograph.training.base import TrainConfig
from pictograph.training.classification import build_model, labelled, make_optimizer, prepare
from pictograph.training.data import TrainingData
from pictograph.training.images import flip_half, normalise
from pictograph.training.loop import batches, seed_everything


def minimal_loop_seconds_per_epoch(
    data: TrainingData, config: TrainConfig, epochs: int, device: str = "cpu"
) -> float:
    """Mean wall seconds per epoch over ``data.train``, model construction included."""
    import torch

    started = time.perf_counter()
    seed_everything()
    pairs = labelled(data.train)
    model = build_model(len(data.classes)).to(device)
    mean, std = model.pretrained_cfg["mean"], model.pretrained_cfg["std"]
    images, labels = prepare(pairs, config.image_size)
    steps = epochs * math.ceil(len(pairs) / config.batch_size)
    optimizer, scheduler = make_optimizer(model, config, steps)
    criterion = torch.nn.CrossEntropyLoss()
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in batches(range(len(pairs)), config.batch_size, shuffle=True, epoch=epoch):
            (inputs,) = flip_half(torch.from_numpy(normalise(images[batch], mean, std)).to(device))
            loss = criterion(model(inputs), torch.from_numpy(labels[batch]).to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    return (time.perf_counter() - started) / epochs
