"""The baseline for the rfdetr pipelines' speed: RF-DETR trained by a bare loop, as its own
training step does it (forward with targets, ``SetCriterion``, the sum of its weighted terms,
backward, gradient clipping at its ``clip_max_norm``, step).

Same model, criterion, optimiser, batches and preprocessing as :mod:`pictograph.training.rfdetr`
(Nano or Seg Nano, one query group on a CPU), so the ratio of a pipeline's seconds per epoch to
this one's is the cost of the shared loop (loss grouping and bookkeeping, progress reports).
"""

from __future__ import annotations

import random
import time

from pictograph.training.base import TrainConfig
from pictograph.training.data import TrainingData
from pictograph.training.loop import seed_everything
from pictograph.training.rfdetr import CLIP_NORM, WEIGHT_DECAY, batch_inputs, configs, input_size


def minimal_loop_seconds_per_epoch(
    data: TrainingData, config: TrainConfig, epochs: int, segmentation: bool, device: str = "cpu"
) -> float:
    """Mean wall seconds of ``epochs`` epochs over ``data.train`` (first epoch included, as
    the pipeline's own figures include it)."""
    import torch
    from rfdetr.models.lwdetr import build_criterion_from_config, build_model_from_config

    seed_everything()
    size = input_size(config.image_size, segmentation)
    model_config, train_config = configs(segmentation, size, len(data.classes), device)
    model = build_model_from_config(model_config, train_config).to(device)
    criterion, _ = build_criterion_from_config(model_config, train_config)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=WEIGHT_DECAY
    )
    model.train()
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = list(range(len(data.train)))
        random.Random(epoch).shuffle(order)
        for start in range(0, len(order), config.batch_size):
            samples = [data.train[index] for index in order[start : start + config.batch_size]]
            images, targets = batch_inputs(samples, size, segmentation, device)
            losses = criterion(model(images, targets), targets)
            weights = criterion.weight_dict
            loss = sum(losses[key] * weights[key] for key in losses if key in weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
            optimizer.step()
    return (time.perf_counter() - started) / epochs
