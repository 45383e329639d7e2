"""Attributes measured from pixel statistics: blurry, dark, bright, contrast, colour.

These need no model, so every image gets them whichever embedder is loaded, and they are
exact about what they claim (a model asked "is this photo dark?" guesses). Everything is
measured on a copy scaled to :data:`SIDE` pixels on its long side, so a statistic means the
same for a thumbnail and a 24-megapixel photo, and a 1024 px image costs 3–5 ms in all.

Each attribute is one statistic compared with a threshold. Its score rises linearly along a
ramp across that threshold: 0.5 at the threshold, 1.0 at the ramp's far end. An attribute is
returned only when the statistic passes its threshold, so every returned score is in
[0.5, 1]: how clearly the image has it.

============= ====================================================== ========= ============
attribute     statistic                                              threshold ramp (0 → 1)
============= ====================================================== ========= ============
blurry        edge sharpness (see :func:`edge_sharpness`)            < 0.25    0.35 → 0.15
dark          mean luminance                                         < 0.225   0.30 → 0.15
bright        mean luminance                                         > 0.775   0.70 → 0.85
low-light     95th percentile of luminance: even the lit parts dim   < 0.40    0.50 → 0.30
overexposed   share of blown-out pixels (every channel ≥ 250)        > 0.15    0.05 → 0.25
high-contrast standard deviation of luminance (RMS contrast)         > 0.27    0.22 → 0.32
low-contrast  standard deviation of luminance                        < 0.06    0.08 → 0.04
grayscale     99th percentile of chroma (max − min channel)          < 0.07    0.10 → 0.04
colorful      Hasler & Süsstrunk colourfulness (0–255 scale)         > 65      50 → 80
============= ====================================================== ========= ============

Luminance is Rec. 601 luma in [0, 1]. Calibration (skimage's photos and drawn shapes): sharp
photos and drawn shapes with hard edges have edge sharpness ≥ 0.45; the same images blurred
by a Gaussian at 256 px score 0.09–0.35 (sigma 1.5), ≤ 0.13 (sigma 3) and ≈ 0 (sigma 8, 20).
A mid-grey image with moderate contrast is neither dark nor bright nor high- or low-contrast;
photos score colourfulness 35–40 (a cat on a rug) to 70–80 (an astronaut, coffee and fruit).
Overexposed also fires on large pure-white backgrounds (studio shots, scans): they are
blown out, whatever the intent.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from pictograph.vision.base import RGBImage

SIDE = 256
"""Long side of the copy the statistics are measured on (smaller images are used as they are)."""
EDGE_QUANTILE = 90
"""Edge sharpness is judged on the pixels whose gradient is in this top percentile."""
PRESMOOTH = 0.7
"""Sigma (pixels) of the Gaussian applied before the edge measure, against 8-bit rounding."""
ROUNDING_FLOOR = 3e-6
"""Laplacian energy that 8-bit rounding of a smooth image leaves after :data:`PRESMOOTH`
(measured 1–3e-6 on quantised ramps and smooth noise)."""
FLAT = 1e-7
"""Mean squared gradient (luminance per pixel) below which an image has no edges to judge."""

RAMPS: dict[str, tuple[float, float]] = {
    "blurry": (0.35, 0.15),
    "dark": (0.30, 0.15),
    "bright": (0.70, 0.85),
    "low-light": (0.50, 0.30),
    "overexposed": (0.05, 0.25),
    "high-contrast": (0.22, 0.32),
    "low-contrast": (0.08, 0.04),
    "grayscale": (0.10, 0.04),
    "colorful": (50.0, 80.0),
}
"""Attribute → (statistic where the score is 0, statistic where it is 1); see the module doc."""


def measured_attributes(image: RGBImage) -> dict[str, float]:
    """The attributes of :data:`RAMPS` that ``image`` has, each with its score in [0.5, 1]."""
    stats = image_statistics(image)
    found: dict[str, float] = {}
    for attribute, (zero, one) in RAMPS.items():
        value = stats[attribute]
        if value is None:
            continue
        score = float(np.clip((value - zero) / (one - zero), 0.0, 1.0))
        if score >= 0.5:
            found[attribute] = round(score, 4)
    return found


def image_statistics(image: RGBImage) -> dict[str, float | None]:
    """The statistic behind each attribute (None where it cannot be judged)."""
    small = _downscaled(_as_rgb(image))
    red, green, blue = (small[..., channel] for channel in range(3))
    brightest = cv2.max(cv2.max(red, green), blue)  # per-channel ops: far faster than
    darkest = cv2.min(cv2.min(red, green), blue)  # numpy reductions over a 3-long axis
    luma8 = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    luma = luma8.astype(np.float32) / 255.0
    mean, std = float(luma.mean()), float(luma.std())
    return {
        "blurry": edge_sharpness(luma),
        "dark": mean,
        "bright": mean,
        "low-light": _percentile8(luma8, 95),
        "overexposed": float((darkest >= 250).mean()),
        "high-contrast": std,
        "low-contrast": std,
        "grayscale": _percentile8(cv2.subtract(brightest, darkest), 99),
        "colorful": colourfulness(small),
    }


def edge_sharpness(luma: npt.NDArray[np.float32]) -> float | None:
    """How abruptly the strongest edges change: Laplacian energy / gradient energy on them.

    The variance of the Laplacian is the usual blur measure, but it grows with the amount of
    texture and contrast, so a sharp drawing on a plain background scores like a blurred photo.
    Dividing by the gradient energy of the same pixels cancels both: across a step edge
    blurred by a Gaussian of sigma s the ratio falls as 1 / s², whatever the edge's contrast
    or how many edges there are. Only the top :data:`EDGE_QUANTILE` percent of gradients
    count, so flat areas (where noise dominates both) do not.

    8-bit rounding puts a Laplacian of its own on smooth ramps, which made heavily blurred
    images look sharp; a light smoothing (:data:`PRESMOOTH`) and subtracting what rounding
    leaves after it (:data:`ROUNDING_FLOOR`) remove it. None for an image with no edges.
    """
    smooth = cv2.GaussianBlur(luma, (0, 0), PRESMOOTH)
    laplacian = cv2.Laplacian(smooth, cv2.CV_32F)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    gradient = gx * gx + gy * gy
    edges = gradient >= np.percentile(gradient, EDGE_QUANTILE)
    energy = float(gradient[edges].mean())
    if energy < FLAT:
        return None
    return max(float((laplacian[edges] ** 2).mean()) - ROUNDING_FLOOR, 0.0) / energy


def colourfulness(image: RGBImage) -> float:
    """Hasler & Süsstrunk's colourfulness M on the 0–255 scale (2003).

    Their scale: 0 not colourful, 15 slightly, 33 moderately, 45 averagely, 59 quite,
    82 highly, 109 extremely colourful.
    """
    red, green, blue = (image[..., channel].astype(np.float32) for channel in range(3))
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = np.hypot(rg.std(), yb.std())
    centre = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * centre)


def _percentile8(values: npt.NDArray[np.uint8], percent: float) -> float:
    """A percentile of 8-bit values, scaled to [0, 1], from their histogram (no sort)."""
    counts = np.cumsum(np.bincount(values.ravel(), minlength=256))
    return float(np.searchsorted(counts, counts[-1] * percent / 100.0)) / 255.0


def _as_rgb(image: RGBImage) -> RGBImage:
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return image[..., :3]


def _downscaled(image: RGBImage) -> RGBImage:
    height, width = image.shape[:2]
    scale = SIDE / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)
