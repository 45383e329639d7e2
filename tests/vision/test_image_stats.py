"""Measured attributes on drawn images whose brightness, sharpness and colour are known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pictograph.vision.image_stats import RAMPS, SIDE, image_statistics, measured_attributes
from pictograph.vision.taxonomy import MEASURED_ATTRIBUTES

Colour = tuple[int, int, int]


def drawn(
    background: Colour = (128, 128, 128),
    shapes: tuple[Colour, Colour, Colour] = ((200, 200, 200), (60, 60, 60), (160, 160, 160)),
    size: tuple[int, int] = (192, 256),
) -> np.ndarray:
    """Three hard-edged shapes (no anti-aliasing) on a flat background."""
    height, width = size
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:] = background
    s = min(height, width)
    cv2.rectangle(image, (s // 8, s // 8), (s // 2, s // 2), shapes[0], thickness=-1)
    cv2.circle(image, (int(width * 0.7), int(height * 0.6)), s // 5, shapes[1], thickness=-1)
    triangle = np.array(
        [[s // 6, height - s // 10], [s // 2, height // 2], [s // 2 + s // 5, height - s // 8]]
    )
    cv2.fillPoly(image, [triangle.astype(np.int32)], shapes[2])
    return image


def blurred(image: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def test_labels_and_scores() -> None:
    assert set(RAMPS) == set(MEASURED_ATTRIBUTES)
    for image in (drawn(), blurred(drawn()), drawn(background=(10, 10, 10))):
        found = measured_attributes(image)
        assert set(found) <= set(MEASURED_ATTRIBUTES)
        assert all(0.5 <= score <= 1.0 for score in found.values())


def test_sharp_drawing_is_not_blurry_and_its_blur_is() -> None:
    sharp = drawn()
    assert "blurry" not in measured_attributes(sharp)
    assert measured_attributes(blurred(sharp))["blurry"] > 0.9


def test_blur_does_not_depend_on_image_size() -> None:
    """A large image is measured at SIDE px: a sharp 1024 px drawing is sharp there too."""
    large = drawn(size=(768, 1024))
    assert "blurry" not in measured_attributes(large)
    assert "blurry" in measured_attributes(blurred(large, 3.0 * 1024 / SIDE))


def test_blur_on_a_photo() -> None:
    data = pytest.importorskip("skimage.data")
    photo = data.astronaut()
    assert "blurry" not in measured_attributes(photo)
    assert "blurry" in measured_attributes(blurred(photo, 6.0))
    assert "blurry" in measured_attributes(blurred(photo, 40.0))  # 8-bit rounding is no detail


def test_a_plain_image_has_no_edges_to_judge() -> None:
    plain = np.full((100, 100, 3), 128, dtype=np.uint8)
    assert image_statistics(plain)["blurry"] is None
    assert measured_attributes(plain) == {"low-contrast": 1.0, "grayscale": 1.0}


def test_dark_bright_and_mid_grey() -> None:
    dark = drawn(background=(20, 20, 20), shapes=((50, 50, 50), (5, 5, 5), (35, 35, 35)))
    bright = drawn(
        background=(235, 235, 235), shapes=((205, 205, 205), (248, 248, 248), (220, 220, 220))
    )
    mid = drawn()
    assert image_statistics(dark)["dark"] == pytest.approx(0.1, abs=0.03)
    assert image_statistics(bright)["bright"] == pytest.approx(0.9, abs=0.03)
    assert {"dark", "low-light"} <= set(measured_attributes(dark))
    assert "bright" not in measured_attributes(dark)
    assert "bright" in measured_attributes(bright)
    assert not {"dark", "low-light"} & set(measured_attributes(bright))
    neither = {"dark", "bright", "low-light", "overexposed", "high-contrast", "low-contrast"}
    assert not neither & set(measured_attributes(mid))


def test_contrast() -> None:
    high = drawn(background=(0, 0, 0), shapes=((255, 255, 255), (240, 240, 240), (250, 250, 250)))
    high[:, : high.shape[1] // 2] = 255 - high[:, : high.shape[1] // 2]
    low = drawn(
        background=(120, 120, 120), shapes=((130, 130, 130), (112, 112, 112), (125, 125, 125))
    )
    assert "high-contrast" in measured_attributes(high)
    assert "low-contrast" not in measured_attributes(high)
    assert "low-contrast" in measured_attributes(low)
    assert "high-contrast" not in measured_attributes(low)


def test_overexposed() -> None:
    blown = drawn(background=(255, 255, 255), shapes=((90, 90, 90), (30, 30, 30), (150, 150, 150)))
    assert "overexposed" in measured_attributes(blown)
    assert "overexposed" not in measured_attributes(drawn())


def test_grayscale_and_colorful() -> None:
    grey = drawn()
    colourful = drawn(
        background=(30, 90, 220), shapes=((240, 30, 30), (250, 220, 20), (20, 200, 60))
    )
    assert "grayscale" in measured_attributes(grey)
    assert "colorful" not in measured_attributes(grey)
    assert "colorful" in measured_attributes(colourful)
    assert "grayscale" not in measured_attributes(colourful)
    muted = drawn(
        background=(128, 120, 110), shapes=((150, 140, 130), (70, 66, 60), (110, 118, 125))
    )
    assert not {"grayscale", "colorful"} & set(measured_attributes(muted))


def test_channel_layouts() -> None:
    """A 2-D grey image, RGBA and a tiny image are all measured like RGB."""
    image = drawn()
    grey = image[..., 0].copy()
    rgba = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert measured_attributes(grey) == measured_attributes(image)
    assert measured_attributes(rgba) == measured_attributes(image)
    assert set(measured_attributes(image[:20, :30])) <= set(MEASURED_ATTRIBUTES)
