"""The baseline for the detectron2 (torchvision Mask R-CNN) pipeline's speed: the model trained
by a bare loop (forward with targets, sum of its losses, backward, clip, step), as torchvision's
detection reference does it per iteration, plus the pipeline's clipping (see CLIP_NORM).

Same model, initialisation, optimiser and warm-up, batches and preprocessing (images, boxes and
masks resized once) as :mod:`pictograph.training.maskrcnn`, timed the same way (model
construction and preprocessing included), so the ratio of the pipeline's seconds per epoch to
this one's is the cost of the shared loop (loss bookkeeping, progress reports).
"""

from __future__ import annotations

import time

from pictograph.training.base import TrainConfig
from pictograph.training.data import TrainingData
from pictograph.training.loop import batches, seed_everything
from pictograph.training.maskrcnn import build_model, make_optimizer, model_input, prepare


CLIP_NORM = 10.0
"""The pipeline's gradient clipping, kept here: it changes what Mask R-CNN learns, and so how
many positive proposals its mask head processes per step (without it the bare loop ran 1.8×
faster per epoch on the same data, from training slower, not from a cheaper loop)."""


def minimal_loop_seconds_per_epoch(
    data: TrainingData, config: TrainConfig, epochs: int, device: str = "cpu"
) -> float:
    """Mean wall seconds per epoch over ``data.train``, model construction included."""
    import torch

    started = time.perf_counter()
    seed_everything()
    model = build_model(len(data.classes), config.image_size).to(device)
    prepared = [prepare(sample, config.image_size) for sample in data.train]
    optimizer, warmup = make_optimizer(model, config, len(prepared))
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in batches(prepared, config.batch_size, shuffle=True, epoch=epoch):
            images = [torch.from_numpy(model_input(image)).to(device) for image, _ in batch]
            targets = [{k: v.to(device) for k, v in target.items()} for _, target in batch]
            loss = sum(model(images, targets).values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
            optimizer.step()
            warmup.step()
    return (time.perf_counter() - started) / epochs
