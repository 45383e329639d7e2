"""The ``sm_pytorch`` pipeline: semantic segmentation with segmentation-models-pytorch.

Every pixel gets a class: 0 background, k+1 for class k (:meth:`Sample.class_map`). The model
is smp's U-Net on a ResNet-18 encoder, from scratch unless ``PICTOGRAPH_SMP_ENCODER_WEIGHTS``
names a torchvision / timm ``resnet18`` checkpoint for the encoder. Images are stretched to
``image_size``² (rounded to a multiple of 32: the encoder halves the resolution five times) and
normalised with the ImageNet mean / std; the loss is per-pixel cross-entropy.

The ONNX file ends in a softmax (``probabilities``, N×(K+1)×S×S). ``predict`` resizes the
probabilities back to the image's size and takes the most probable class per pixel; a pixel
whose best probability is below ``score_threshold`` becomes background, so a higher threshold
keeps only confident object pixels.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pictograph.training import default_config
from pictograph.training.base import (
    ModelType,
    Prediction,
    Reporter,
    TrainConfig,
    TrainResult,
)
from pictograph.training.data import Sample, TrainingData
from pictograph.training.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    export_probabilities,
    flip_half,
    load_matching_weights,
    normalise,
    resize_labels,
    resize_rgb,
    resize_scores,
    square_input,
)
from pictograph.training.loop import adamw_cosine, seed_everything, train_epochs
from pictograph.training.metrics import semantic_metrics
from pictograph.training.onnx_io import session as onnx_session

ENCODER = "resnet18"
ARCHITECTURE = f"unet-{ENCODER}"
WEIGHTS_ENV = "PICTOGRAPH_SMP_ENCODER_WEIGHTS"
STRIDE = 32
WEIGHT_DECAY = 1e-4
ONNX_ATOL = 1e-4


def build_model(num_classes: int, reporter: Reporter | None = None) -> Any:
    """U-Net with ``num_classes`` + 1 outputs (background first); encoder weights when given."""
    import segmentation_models_pytorch as smp

    model = smp.Unet(ENCODER, encoder_weights=None, classes=num_classes + 1)
    weights = os.environ.get(WEIGHTS_ENV)
    if weights:
        loaded, skipped = load_matching_weights(model.encoder, Path(weights))
        if reporter is not None:
            reporter.log(f"{WEIGHTS_ENV}: loaded {loaded} encoder tensors, skipped {skipped}")
    return model


def prepare(
    samples: Sequence[Sample], size: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Every image and its class map resized once (N×S×S×3 uint8, N×S×S int64)."""
    images = np.stack([resize_rgb(sample.load_rgb(), size, size) for sample in samples])
    targets = np.stack([resize_labels(sample.class_map(), size, size) for sample in samples])
    return images, targets.astype(np.int64)


def make_optimizer(model: Any, config: TrainConfig, steps: int) -> tuple[Any, Any]:
    return adamw_cosine(model, config, steps, WEIGHT_DECAY)


class SemanticPipeline:
    name = "sm_pytorch"
    model_type: ModelType = "semantic_segmentation"
    defaults = default_config("sm_pytorch")

    def train(
        self,
        data: TrainingData,
        config: TrainConfig,
        workdir: Path,
        reporter: Reporter,
        device: str,
    ) -> TrainResult:
        import torch

        size = max(STRIDE, round(config.image_size / STRIDE) * STRIDE)
        if size != config.image_size:
            reporter.log(
                f"image_size {config.image_size} rounded to {size} (a multiple of {STRIDE})"
            )
            config = replace(config, image_size=size)
        seed_everything()
        model = build_model(len(data.classes), reporter).to(device)
        images, targets = prepare(data.train, config.image_size)
        loss = torch.nn.CrossEntropyLoss()

        def step(batch: list[int]) -> dict[str, Any]:
            inputs = torch.from_numpy(normalise(images[batch], IMAGENET_MEAN, IMAGENET_STD))
            labels = torch.from_numpy(targets[batch])
            inputs, labels = flip_half(inputs.to(device), labels.to(device))
            return {"cross_entropy": loss(model(inputs), labels)}

        steps = config.epochs * math.ceil(len(data.train) / config.batch_size)
        optimizer, scheduler = make_optimizer(model, config, steps)
        train_epochs(model, optimizer, list(range(len(data.train))), epochs=config.epochs,
                     batch_size=config.batch_size, step=step, reporter=reporter,
                     scheduler=scheduler)  # fmt: skip

        inference = {"image_size": config.image_size, "mean": list(IMAGENET_MEAN),
                     "std": list(IMAGENET_STD), "resize": "stretch",
                     "output": "probabilities"}  # fmt: skip
        path = workdir / "model.onnx"
        example = square_input(data.test[0].load_rgb(), config.image_size, IMAGENET_MEAN,
                               IMAGENET_STD)  # fmt: skip
        diff = export_probabilities(model, example, path, atol=ONNX_ATOL)
        session = onnx_session(path, device)
        reporter.log(f"val: {self.evaluate(session, data.val, inference, len(data.classes))}")
        metrics = self.evaluate(session, data.test, inference, len(data.classes))
        return TrainResult(path, ARCHITECTURE, metrics, diff, inference)

    def evaluate(
        self,
        session: Any,
        samples: Sequence[Sample],
        inference: Mapping[str, Any],
        num_classes: int,
    ) -> dict[str, float]:
        """mIoU and pixel accuracy of the ONNX model at full resolution (threshold 0)."""
        predicted = [
            self.predict(session, sample.load_rgb(), inference, 0.0).class_map for sample in samples
        ]
        return semantic_metrics(predicted, [sample.class_map() for sample in samples], num_classes)

    def predict(
        self,
        session: Any,
        image: npt.NDArray[np.uint8],
        inference: Mapping[str, Any],
        score_threshold: float,
    ) -> Prediction:
        """H×W class map in the image's own size; pixels below ``score_threshold`` → 0.

        Each class's probabilities are resized to the image in turn, keeping only the running
        best: a (K+1)×H×W stack for a large photo would cost gigabytes.
        """
        height, width = image.shape[:2]
        inputs = square_input(image, inference["image_size"], inference["mean"], inference["std"])
        (probabilities,) = session.run(None, {"image": inputs})
        best = np.zeros((height, width), np.float32)
        class_map = np.zeros((height, width), np.uint8)
        for index, channel in enumerate(probabilities[0]):
            resized = resize_scores(channel, width, height)
            better = resized > best
            best[better], class_map[better] = resized[better], index
        class_map[best < score_threshold] = 0
        return Prediction(class_map=class_map)


PIPELINE = SemanticPipeline()
