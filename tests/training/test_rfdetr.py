"""The RF-DETR pipelines end to end (worker run, ONNX check, metrics, predict) and their parts.

The end-to-end runs are kept tiny (6 drawn images, 96 px, one step per epoch): an untrained
RF-DETR is slow on a CPU, and learning is not what they check. Torch runs on one thread, as in
the other pipelines' tests: on a busy 2-core machine two threads per process were slower.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pictograph.training.base import Detection, Prediction
from pictograph.training.rfdetr import (
    MAX_DETECTIONS,
    QUERY_KEYS,
    WEIGHTS_ENV,
    build,
    configs,
    detections_from_outputs,
    input_size,
    weighted_losses,
)
from tests.training.pipeline_check import predict_drawn, train_drawn

pytest.importorskip("rfdetr")
torch = pytest.importorskip("torch")

BOX_KEYS = ("mAP", "mAP50", "mAP75", "precision", "recall")


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def epoch(self, epoch: int, total: int, losses: object) -> None:
        raise AssertionError("no training here")

    def log(self, message: str) -> None:
        self.lines.append(message)


def check_prediction(prediction: Prediction, masks: bool) -> None:
    assert 0 < len(prediction.detections) <= MAX_DETECTIONS
    for found in prediction.detections:
        assert isinstance(found, Detection) and found.class_index in (0, 1)
        x1, y1, x2, y2 = found.box
        assert 0 <= x1 <= x2 <= 96 and 0 <= y1 <= y2 <= 96
        if masks:
            assert found.mask is not None
            assert found.mask.shape == (96, 96) and found.mask.dtype == np.bool_
        else:
            assert found.mask is None
    scores = [found.score for found in prediction.detections]
    assert scores == sorted(scores, reverse=True)


def test_detection_trains_exports_and_predicts(tmp_path: Path) -> None:
    config = {"epochs": 2, "batch_size": 4, "image_size": 96}
    result, events = train_drawn(tmp_path, "rfdetr_detection", config, images=6)
    assert result["architecture"] == "rfdetr-nano"
    assert set(result["metrics"]) == set(BOX_KEYS)
    assert all(0.0 <= value <= 1.0 for value in result["metrics"].values())
    assert result["onnx_max_abs_diff"] < 1e-3
    losses = [e["losses"] for e in events if e["event"] == "epoch"]
    assert all(set(loss) == {"ce", "bbox", "giou", "loss"} for loss in losses)
    check_prediction(predict_drawn(result), masks=False)


def test_segmentation_trains_exports_and_predicts(tmp_path: Path) -> None:
    config = {"epochs": 1, "batch_size": 4, "image_size": 100}
    result, events = train_drawn(tmp_path, "rfdetr_segmentation", config, images=6)
    assert result["architecture"] == "rfdetr-seg-nano"
    expected = {*BOX_KEYS, *(f"mask_{key}" for key in BOX_KEYS)}
    assert set(result["metrics"]) == expected
    assert all(0.0 <= value <= 1.0 for value in result["metrics"].values())
    assert result["onnx_max_abs_diff"] < 1e-3
    (losses,) = [e["losses"] for e in events if e["event"] == "epoch"]
    assert set(losses) == {"ce", "bbox", "giou", "mask_ce", "mask_dice", "loss"}
    logs = [e["message"] for e in events if e["event"] == "log"]
    assert "image_size 100 rounded to 96 for rfdetr-seg-nano" in logs
    check_prediction(predict_drawn(result), masks=True)


def test_input_size_is_a_multiple_of_the_backbone_block() -> None:
    """Nano: patch 16 × 2 windows; Seg Nano: patch 12 × 1 window."""
    assert [input_size(size, False) for size in (10, 96, 100, 130, 384)] == [32, 96, 96, 128, 384]
    assert [input_size(size, True) for size in (5, 96, 100, 312)] == [12, 96, 96, 312]


def test_detections_rank_query_class_pairs_and_skip_the_no_object_slot() -> None:
    boxes = np.array(
        [[0.5, 0.5, 0.5, 0.5], [0.25, 0.5, 0.5, 1.0], [0.9, 0.9, 0.4, 0.4], [0.5, 0.5, -0.2, 0.2]],
        np.float32,
    )
    logits = np.array(
        [[2.0, -1.0, 9.0], [-3.0, 1.0, 9.0], [0.5, 3.0, 9.0], [-5.0, -5.0, 9.0]], np.float32
    )
    masks = np.full((4, 2, 2), -1.0, np.float32)
    masks[1, :, 0] = 1.0  # the left half
    found = detections_from_outputs(boxes, logits, masks, (40, 80), score_threshold=0.6)
    assert [(d.class_index, round(d.score, 3)) for d in found] == [
        (1, 0.953), (0, 0.881), (1, 0.731), (0, 0.622)
    ]  # fmt: skip
    assert found[0].box == pytest.approx((56.0, 28.0, 80.0, 40.0))  # clipped to the image
    assert found[1].box == pytest.approx((20.0, 10.0, 60.0, 30.0))
    assert found[2].box == pytest.approx((0.0, 0.0, 40.0, 40.0))
    left = found[2].mask
    assert left is not None and left.shape == (40, 80)
    assert left[:, :30].all() and not left[:, 50:].any()
    everything = detections_from_outputs(boxes, logits, None, (40, 80), 0.0)
    assert len(everything) == 8
    assert everything[-1].box == pytest.approx((40.0, 16.0, 40.0, 24.0))  # negative width: empty


def test_weighted_losses_sum_each_term_over_layers() -> None:
    losses = {name: torch.tensor(1.0) for name in ("loss_ce", "loss_ce_0", "loss_ce_enc",
              "loss_mask_ce", "loss_mask_ce_1", "class_error")}  # fmt: skip
    weights = {"loss_ce": 2.0, "loss_ce_0": 2.0, "loss_ce_enc": 2.0, "loss_mask_ce": 5.0,
               "loss_mask_ce_1": 5.0, "loss_bbox": 5.0}  # fmt: skip
    grouped = {name: float(value) for name, value in weighted_losses(losses, weights).items()}
    assert grouped == {"ce": 6.0, "mask_ce": 10.0}


def test_local_weights_load_without_the_class_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint as the library writes it (13 query groups, 3 classes, 64 px position
    embeddings) fits a 2-class model trained on a CPU at 96 px."""
    from rfdetr.models.lwdetr import build_model_from_config

    source = build_model_from_config(*configs(False, 64, 3, "cuda"))
    path = tmp_path / "rf-detr-nano.pth"
    torch.save({"model": source.state_dict()}, path)
    monkeypatch.setenv(WEIGHTS_ENV, str(path))
    log = Log()
    model, _ = build(False, 96, 2, "cpu", log)
    (message,) = log.lines
    loaded, total = (int(word) for word in message.split()[1:4:2])
    assert 0 < loaded < total
    own, theirs = model.state_dict(), source.state_dict()
    for key in QUERY_KEYS:
        assert theirs[key].shape[0] == 13 * own[key].shape[0]
        assert torch.equal(own[key], theirs[key][: own[key].shape[0]])
    assert own["class_embed.weight"].shape[0] == 3 and theirs["class_embed.weight"].shape[0] == 4
    backbone = "backbone.0.encoder.encoder.encoder.layer.0.attention.attention.query.weight"
    assert torch.equal(own[backbone], theirs[backbone])
    grid = "backbone.0.encoder.encoder.embeddings.position_embeddings"  # 1 + patches rows
    assert own[grid].shape[1] == 1 + 6 * 6 and theirs[grid].shape[1] == 1 + 4 * 4
    assert torch.equal(own[grid][:, 0], theirs[grid][:, 0])  # interpolated, then loaded
