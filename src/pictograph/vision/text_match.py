"""Text prompts for the bundled COCO detector: match a prompt's words to the 80 class names.

With no open-vocabulary model installed, a prompt such as "parked cars" or "red bus" can still
be answered by a closed-set detector whose classes it names. Parsing is a small, predictable
grammar rather than a language model, so users can tell why a prompt matched or not:

- The prompt is lower-cased; underscores and hyphens are spaces ("stop_sign" → stop sign);
  articles and filler ("a", "the", "some", "photo", "please"…) are dropped.
- It splits into parts at "and", "or", "with", "on", "in", "of", "near" and punctuation, so
  "cats and dogs" names two classes and "glasses of wine" names a wine glass.
- In each part the object is the *last* words (the head of an English noun phrase): the
  longest class name, plural, synonym or group word ending the part. Words before it are
  modifiers and are ignored ("parked cars" → car), but a class word that only modifies another
  noun is not the object ("bus stop", "car wheel" → no class).
- Colour words anywhere (red, orange, yellow, green, blue, purple, pink, brown, black, white,
  gray / grey) set the colour, except a colour word that is itself the head ("an orange").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

from pictograph.vision.base import BoolMask, Prediction, RGBImage, TextDetector
from pictograph.vision.coco_detector import COCO_CLASSES, CocoDetector
from pictograph.vision.coco_detector import load as load_detector
from pictograph.vision.registry import ModelLocation

SYNONYMS: dict[str, tuple[str, ...]] = {
    "person": (
        "man", "woman", "child", "kid", "boy", "girl", "baby", "pedestrian", "human", "adult",
    ),
    "bicycle": ("bike", "cycle"),
    "car": ("automobile", "sedan", "taxi"),
    "motorcycle": ("motorbike", "scooter"),
    "airplane": ("plane", "aeroplane", "aircraft", "airliner", "jet"),
    "truck": ("lorry",),
    "boat": ("ship", "yacht", "sailboat", "canoe", "kayak"),
    "traffic light": ("traffic signal", "stoplight"),
    "fire hydrant": ("hydrant",),
    "cat": ("kitten", "kitty"),
    "dog": ("puppy", "pup"),
    "horse": ("pony", "foal"),
    "sheep": ("lamb",),
    "cow": ("cattle", "bull", "calf", "ox"),
    "backpack": ("rucksack",),
    "handbag": ("purse",),
    "tie": ("necktie",),
    "suitcase": ("luggage",),
    "skis": ("ski",),
    "sports ball": ("ball", "football", "soccer ball", "basketball", "tennis ball"),
    "baseball bat": ("bat",),
    "baseball glove": ("glove", "mitt"),
    "tennis racket": ("racket", "racquet", "tennis racquet"),
    "wine glass": ("glass",),
    "cup": ("mug",),
    "hot dog": ("hotdog",),
    "donut": ("doughnut",),
    "couch": ("sofa",),
    "potted plant": ("plant", "houseplant"),
    "dining table": ("table",),
    "tv": ("television", "monitor", "screen", "tv set"),
    "mouse": ("computer mouse",),
    "remote": ("remote control",),
    "cell phone": ("phone", "mobile phone", "smartphone", "cellphone", "mobile"),
    "refrigerator": ("fridge",),
    "teddy bear": ("teddy",),
    "hair drier": ("hair dryer", "hairdryer", "blow dryer"),
}  # fmt: skip
"""Other words for a class; plurals of every name here are added by :func:`plural`."""

GROUPS: dict[str, tuple[str, ...]] = {
    "vehicle": ("car", "truck", "bus", "motorcycle"),
    "animal": (
        "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
    ),
    "fruit": ("banana", "apple", "orange"),
    "furniture": ("chair", "couch", "bed", "dining table"),
}  # fmt: skip
"""Words that stand for several classes."""

IRREGULAR_PLURALS = {
    "person": "people", "man": "men", "woman": "women", "child": "children", "mouse": "mice",
    "knife": "knives", "calf": "calves", "ox": "oxen", "sheep": "sheep", "skis": "skis",
    "scissors": "scissors", "aircraft": "aircraft", "cattle": "cattle", "luggage": "luggage",
}  # fmt: skip
"""Plurals the English rules in :func:`plural` get wrong, and words with no plural."""

COLOUR_WORDS = {
    "red": "red", "orange": "orange", "yellow": "yellow", "green": "green", "blue": "blue",
    "purple": "purple", "pink": "pink", "brown": "brown", "black": "black", "white": "white",
    "gray": "gray", "grey": "gray",
}  # fmt: skip
"""Colour words → the colour checked (British and American grey are the same)."""

SPLIT_WORDS = frozenset({"and", "or", "with", "on", "in", "of", "near", "plus"})
"""Words that join two noun phrases: each side names its own object."""
FILLER_WORDS = frozenset({
    "a", "an", "the", "some", "any", "all", "every", "each", "this", "that", "these", "those",
    "my", "your", "its", "their", "only", "please", "here", "there", "photo", "picture", "image",
})  # fmt: skip
"""Words dropped before matching, so "cars only" still ends in its object."""

COLOUR_RANGES: dict[str, tuple[tuple[int, int, int, int, int, int], ...]] = {
    "red": ((0, 8, 120, 256, 50, 256), (170, 180, 120, 256, 50, 256)),
    "orange": ((8, 22, 100, 256, 150, 256),),
    "yellow": ((22, 35, 90, 256, 120, 256),),
    "green": ((35, 85, 60, 256, 40, 256),),
    "blue": ((85, 128, 60, 256, 40, 256),),
    "purple": ((128, 155, 50, 256, 40, 256),),
    "pink": (
        (155, 170, 40, 256, 100, 256),
        (170, 180, 30, 120, 150, 256),
        (0, 10, 30, 120, 150, 256),
    ),
    "brown": ((5, 25, 60, 256, 30, 150),),
    "white": ((0, 180, 0, 40, 180, 256),),
    "gray": ((0, 180, 0, 40, 50, 180),),
    "black": ((0, 180, 0, 256, 0, 50),),
}
"""OpenCV HSV boxes (H 0–179, S and V 0–255) per colour, as (h_lo, h_hi, s_lo, s_hi, v_lo, v_hi)
with exclusive upper bounds. Chromatic colours need enough saturation that greys never count;
red needs more than pink (pink is light red); brown is orange hue at low brightness; white,
gray and black are told apart by brightness alone."""

COLOUR_MIN_FRACTION = 0.3
"""A prompt's colour is accepted when at least this share of the object's pixels has it: enough
to ignore windows, tyres and shadows on a red car, and far above what a blue car shows."""


@dataclass(frozen=True)
class PromptQuery:
    """What a text prompt asks the COCO detector for."""

    classes: tuple[str, ...]
    """COCO class names, in the prompt's order; empty when no class matches."""
    colour: str | None
    """One of :data:`COLOUR_RANGES`' keys, or None."""


def plural(phrase: str) -> str:
    """The plural of a name by English rules, inflecting the last word ("wine glasses")."""
    *head, last = phrase.split(" ")
    if last in IRREGULAR_PLURALS:
        word = IRREGULAR_PLURALS[last]
    elif last.endswith(("s", "sh", "ch", "x", "z")):
        word = last + "es"
    elif last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u"):
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return " ".join([*head, word])


def _vocabulary() -> dict[str, tuple[str, ...]]:
    """Every phrase we recognise (names, synonyms, groups and their plurals) → its classes."""
    entries: list[tuple[str, tuple[str, ...]]] = []
    for name in COCO_CLASSES:
        entries.append((name, (name,)))
        entries.extend((synonym, (name,)) for synonym in SYNONYMS.get(name, ()))
    entries.extend(GROUPS.items())
    vocabulary: dict[str, tuple[str, ...]] = {}
    for phrase, classes in entries:
        vocabulary.setdefault(phrase, classes)
        vocabulary.setdefault(plural(phrase), classes)
    return vocabulary


VOCABULARY = _vocabulary()
_LONGEST = max(len(phrase.split(" ")) for phrase in VOCABULARY)


@lru_cache(maxsize=1024)
def parse_prompt(text: str) -> PromptQuery:
    """The COCO classes and the colour a prompt names (see the module docstring for the rules)."""
    cleaned = re.sub(r"[_\-]", " ", text.lower())
    parts: list[list[str]] = [[]]
    for token in re.findall(r"[a-z]+|[^a-z\s]", cleaned):
        if token in SPLIT_WORDS or not token.isalpha():
            parts.append([])
        elif token not in FILLER_WORDS:
            parts[-1].append(token)
    classes: list[str] = []
    colour: str | None = None
    for words in parts:
        head = _head(words)
        modifiers = words[: len(words) - len(head.split(" "))] if head else words
        if head:
            classes.extend(name for name in VOCABULARY[head] if name not in classes)
        for word in modifiers:
            if colour is None and word in COLOUR_WORDS:
                colour = COLOUR_WORDS[word]
    return PromptQuery(classes=tuple(classes), colour=colour)


def _head(words: Sequence[str]) -> str | None:
    """The longest vocabulary phrase ending ``words``, or None."""
    for length in range(min(_LONGEST, len(words)), 0, -1):
        phrase = " ".join(words[-length:])
        if phrase in VOCABULARY:
            return phrase
    return None


def matched_classes(prompt: str) -> tuple[str, ...]:
    """The COCO classes a prompt names; empty means this detector cannot answer it."""
    return parse_prompt(prompt).classes


def colour_fraction(image: RGBImage, region: BoolMask, colour: str) -> float:
    """The share of ``region``'s pixels whose HSV value falls in one of the colour's ranges."""
    pixels = image[region]
    if pixels.size == 0:
        return 0.0
    hsv = cv2.cvtColor(pixels[None, :, :3].astype(np.uint8), cv2.COLOR_RGB2HSV)[0].astype(int)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    hits = np.zeros(len(hsv), dtype=bool)
    for h_lo, h_hi, s_lo, s_hi, v_lo, v_hi in COLOUR_RANGES[colour]:
        hits |= (h >= h_lo) & (h < h_hi) & (s >= s_lo) & (s < s_hi) & (v >= v_lo) & (v < v_hi)
    return float(hits.mean())


class MatchedTextDetector(TextDetector):
    """Text prompts answered by the COCO detector through :func:`parse_prompt`."""

    name = "ssd-mobilenet-v2-coco"

    def __init__(self, detector: CocoDetector) -> None:
        self.detector = detector
        self.device = detector.device

    def detect(self, image: RGBImage, prompts: Sequence[str], threshold: float) -> list[Prediction]:
        """Run the detector once; each detection answers every prompt naming its class.

        A detection matching two prompts ("dog", "animals") is returned once per prompt, with
        that prompt as its label. Colour words are checked later, in :meth:`accepts`.
        """
        wanted = [(prompt, set(matched_classes(prompt))) for prompt in prompts]
        if not any(classes for _, classes in wanted):
            return []
        found = []
        for detection in self.detector.detect(image, threshold):
            for prompt, classes in wanted:
                if detection.label in classes:
                    found.append(replace(detection, label=prompt))
        return found

    def needs_mask(self, prompt: str) -> bool:
        """A colour word is checked on the object's own pixels, which only a mask gives."""
        return parse_prompt(prompt).colour is not None

    def accepts(self, image: RGBImage, prediction: Prediction) -> bool:
        """Whether the object has the prompt's colour (True when the prompt names none).

        The check reads the mask's pixels, or the box's when there is no mask yet.
        """
        colour = parse_prompt(prediction.label or "").colour
        if colour is None:
            return True
        region = prediction.mask
        if region is None:
            region = np.zeros(image.shape[:2], dtype=bool)
            x1, y1, x2, y2 = prediction.box
            region[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = True
        return colour_fraction(image, region, colour) >= COLOUR_MIN_FRACTION


def load(location: ModelLocation, device: str) -> MatchedTextDetector:
    """The COCO detector from the package directory, behind the prompt matcher."""
    return MatchedTextDetector(load_detector(location, device))
