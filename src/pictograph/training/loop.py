"""The epoch loop every pipeline shares: batching, the optimiser step, loss means, progress.

Pipelines differ in their model, targets and loss; the loop around them is the same, so it
lives here once. ``step`` turns one batch of samples into a dict of loss tensors; the loop
sums them, back-propagates (with gradient clipping: several detectors diverge from scratch
without it), steps the optimiser and reports each epoch's mean losses.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from pictograph.training.base import Reporter, TrainingFailed

T = TypeVar("T")

SEED = 0


def seed_everything(seed: int = SEED) -> None:
    """Same data order and initial weights on every run of the same export and config."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def adamw_cosine(
    model: Any, config: Any, steps: int, weight_decay: float = 1e-4
) -> tuple[Any, Any]:
    """AdamW with a cosine decay over the run's ``steps``: robust from scratch, nothing to tune
    (the classification and semantic pipelines train with it)."""
    import torch

    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=weight_decay
    )
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps))


def batches(items: Sequence[T], batch_size: int, *, shuffle: bool, epoch: int = 0) -> Iterator[list[T]]:
    """``items`` in batches; shuffled per epoch with a seed derived from the epoch.

    A last batch of one joins the batch before it: batch norm cannot train on a single sample
    whose feature map is 1×1 (a small image through a deep backbone), and a lone sample makes a
    noisy step anyway."""
    order = list(range(len(items)))
    if shuffle:
        random.Random(SEED + epoch).shuffle(order)
    chunks = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if len(chunks) > 1 and len(chunks[-1]) == 1 and batch_size > 1:
        chunks[-2].extend(chunks.pop())
    for chunk in chunks:
        yield [items[index] for index in chunk]


def train_epochs(
    model: Any,
    optimizer: Any,
    items: Sequence[T],
    *,
    epochs: int,
    batch_size: int,
    step: Callable[[list[T]], Mapping[str, Any]],
    reporter: Reporter,
    scheduler: Any = None,
    clip_norm: float | None = 10.0,
    on_epoch_end: Callable[[int], None] | None = None,
) -> None:
    """Train ``model`` for ``epochs``; raises TrainingFailed when a loss becomes NaN or inf."""
    import torch

    for epoch in range(1, epochs + 1):
        model.train()
        sums: dict[str, float] = {}
        count = 0
        for batch in batches(items, batch_size, shuffle=True, epoch=epoch):
            losses = step(batch)
            total = sum(losses.values())
            if not torch.isfinite(total):
                raise TrainingFailed(
                    f"The loss diverged at epoch {epoch} (try a lower learning_rate)"
                )
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            count += 1
            for name, value in losses.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            sums["loss"] = sums.get("loss", 0.0) + float(total.detach())
        reporter.epoch(epoch, epochs, {name: value / max(1, count) for name, value in sums.items()})
        if on_epoch_end is not None:
            on_epoch_end(epoch)
