"""Evaluation on the test split: pycocotools for detectors, confusion counts for the others.

Detector metrics are the ones the Model page shows: ``mAP`` (COCO mAP@[.5:.95]), ``mAP50``,
``mAP75``, and ``precision`` / ``recall`` at IoU 0.5 for detections scoring at least
:data:`SCORE_THRESHOLD`, counted from COCOeval's own per-image matches.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

SCORE_THRESHOLD = 0.5


def coco_metrics(
    ground_truth: dict[str, Any], detections: list[dict[str, Any]], iou_type: str = "bbox"
) -> dict[str, float]:
    """``detections``: COCO results (image_id, category_id, bbox xywh, score[, segmentation RLE])."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    n_truth = len(ground_truth["annotations"])
    if not detections:
        return {
            "mAP": 0.0,
            "mAP50": 0.0,
            "mAP75": 0.0,
            "precision": 0.0,
            "recall": 0.0 if n_truth else 1.0,
        }
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = ground_truth
        truth.createIndex()
        results = truth.loadRes(detections)
        evaluator = COCOeval(truth, results, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = [max(0.0, float(v)) for v in evaluator.stats[:3]]
    precision, recall = _precision_recall(evaluator, n_truth)
    return {
        "mAP": stats[0],
        "mAP50": stats[1],
        "mAP75": stats[2],
        "precision": precision,
        "recall": recall,
    }


def _precision_recall(evaluator: Any, n_truth: int) -> tuple[float, float]:
    """TP / FP at IoU 0.5 among detections scoring ≥ SCORE_THRESHOLD, from COCOeval's matches."""
    iou_index = 0  # iouThrs[0] == 0.5
    all_area = evaluator.params.areaRng[0]
    max_dets = evaluator.params.maxDets[-1]
    true_pos = false_pos = 0
    for entry in evaluator.evalImgs:
        if entry is None or entry["aRng"] != all_area or entry["maxDet"] != max_dets:
            continue
        for index, score in enumerate(entry["dtScores"]):
            if score < SCORE_THRESHOLD or entry["dtIgnore"][iou_index][index]:
                continue
            if entry["dtMatches"][iou_index][index] > 0:
                true_pos += 1
            else:
                false_pos += 1
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
    recall = true_pos / n_truth if n_truth else 1.0
    return precision, recall


def semantic_metrics(
    predictions: Sequence[npt.NDArray[np.integer[Any]]],
    targets: Sequence[npt.NDArray[np.integer[Any]]],
    num_classes: int,
) -> dict[str, float]:
    """``mIoU`` over the object classes present in prediction or target (background excluded),
    ``pixel_accuracy`` over every pixel. Maps hold 0 for background, k+1 for class k."""
    confusion = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for predicted, target in zip(predictions, targets, strict=True):
        pairs = (
            target.astype(np.int64).ravel() * (num_classes + 1) + predicted.astype(np.int64).ravel()
        )
        confusion += np.bincount(pairs, minlength=(num_classes + 1) ** 2).reshape(confusion.shape)
    intersection = np.diag(confusion).astype(float)
    union = confusion.sum(0) + confusion.sum(1) - np.diag(confusion)
    present = union[1:] > 0
    ious = intersection[1:][present] / union[1:][present]
    return {
        "mIoU": float(ious.mean()) if ious.size else 0.0,
        "pixel_accuracy": float(intersection.sum() / max(1, confusion.sum())),
    }


def classification_metrics(
    predicted: Sequence[int], actual: Sequence[int], num_classes: int
) -> dict[str, float]:
    """``accuracy`` and macro ``precision`` / ``recall`` / ``f1`` over the classes that occur."""
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for guess, truth in zip(predicted, actual, strict=True):
        confusion[truth, guess] += 1
    true_pos = np.diag(confusion).astype(float)
    occurring = (confusion.sum(0) + confusion.sum(1)) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(confusion.sum(0) > 0, true_pos / confusion.sum(0), 0.0)
        recall = np.where(confusion.sum(1) > 0, true_pos / confusion.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "accuracy": float(true_pos.sum() / max(1, confusion.sum())),
        "precision": float(precision[occurring].mean()) if occurring.any() else 0.0,
        "recall": float(recall[occurring].mean()) if occurring.any() else 0.0,
        "f1": float(f1[occurring].mean()) if occurring.any() else 0.0,
    }
