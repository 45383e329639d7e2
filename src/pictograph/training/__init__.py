"""Training pipelines: from a Pictograph export to a checked ONNX file and its metrics.

Six pipelines, one module each (imported only when used: they need torch and their library):

=======================  =====================================  ==========================
``pipeline_type``        implementation                         model type
=======================  =====================================  ==========================
``yolox``                YOLOX (``pixeltable-yolox``)           object_detection
``detectron2``           Mask R-CNN from torchvision            instance_segmentation
``sm_pytorch``           segmentation-models-pytorch            semantic_segmentation
``classification``       timm                                   classification
``rfdetr_detection``     RF-DETR (``rfdetr``)                   object_detection
``rfdetr_segmentation``  RF-DETR Seg (``rfdetr``)               instance_segmentation
=======================  =====================================  ==========================

The ``detectron2`` name is the hosted service's; the model behind it is torchvision's Mask
R-CNN (Detectron2 itself has no installable release for current Python and torch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pictograph.training.base import Pipeline, TrainConfig

PIPELINE_MODULES: dict[str, tuple[str, str]] = {
    "yolox": ("pictograph.training.yolox", "PIPELINE"),
    "detectron2": ("pictograph.training.maskrcnn", "PIPELINE"),
    "sm_pytorch": ("pictograph.training.semantic", "PIPELINE"),
    "classification": ("pictograph.training.classification", "PIPELINE"),
    "rfdetr_detection": ("pictograph.training.rfdetr", "DETECTION"),
    "rfdetr_segmentation": ("pictograph.training.rfdetr", "SEGMENTATION"),
}
PIPELINE_TYPES: tuple[str, ...] = tuple(PIPELINE_MODULES)
MODEL_TYPES: dict[str, str] = {
    "yolox": "object_detection",
    "detectron2": "instance_segmentation",
    "sm_pytorch": "semantic_segmentation",
    "classification": "classification",
    "rfdetr_detection": "object_detection",
    "rfdetr_segmentation": "instance_segmentation",
}
"""What each pipeline produces (known without importing torch)."""

DEFAULT_CONFIGS: dict[str, dict[str, int | float]] = {
    "yolox": {"epochs": 30, "batch_size": 8, "learning_rate": 1e-2, "image_size": 640},
    "detectron2": {"epochs": 20, "batch_size": 4, "learning_rate": 1e-2, "image_size": 1024},
    "sm_pytorch": {"epochs": 30, "batch_size": 8, "learning_rate": 1e-3, "image_size": 512},
    "classification": {"epochs": 30, "batch_size": 16, "learning_rate": 1e-3, "image_size": 224},
    "rfdetr_detection": {"epochs": 50, "batch_size": 4, "learning_rate": 4e-4, "image_size": 384},
    "rfdetr_segmentation": {
        "epochs": 50,
        "batch_size": 4,
        "learning_rate": 4e-4,
        "image_size": 312,
    },
}
"""Each pipeline's defaults (the server validates ``config`` against them without torch)."""


def default_config(name: str) -> TrainConfig:
    from pictograph.training.base import TrainConfig

    return TrainConfig(**DEFAULT_CONFIGS[name])  # type: ignore[arg-type]


def get_pipeline(name: str) -> Pipeline:
    """The pipeline object for ``name`` (imports its module and library)."""
    module_name, attribute = PIPELINE_MODULES[name]
    return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]
