"""The curated auto-tag taxonomy: the only labels auto-tagging may write.

A closed list, not free text, so that tag search has a vocabulary users can browse, tags from
different models agree, and a zero-shot model is asked only questions worth answering. Three
categories:

- ``objects`` — things in the image (COCO's classes and the common objects of driving, retail,
  industrial and household data sets).
- ``scenes`` — where and when the image was taken (place, indoor / outdoor, time, weather).
- ``attributes`` — how the image looks. :data:`MEASURED_ATTRIBUTES` are measured from pixel
  statistics (``image_stats.py``) for every image; the others need a model that can judge them.

Labels are lower-case words joined by hyphens (``traffic-light``, ``high-contrast``): one token
each in a search query, and :func:`normalize_tag` turns what a user types into that form.

:data:`IMAGENET_OBJECTS` maps ImageNet-1k class indices to objects, for classifiers that only
know ImageNet (EfficientNet-Lite0). It holds only classes that are clearly one of our objects;
the class names came from torchvision's ``ResNet50_Weights.IMAGENET1K_V2.meta["categories"]``
and are kept as comments so the table reads without torchvision.
"""

from __future__ import annotations

import hashlib
import json
import re

OBJECTS: tuple[str, ...] = (
    # people
    "person", "face", "hand",
    # vehicles and their parts
    "car", "truck", "bus", "van", "motorcycle", "bicycle", "scooter", "train", "tram", "airplane",
    "helicopter", "drone", "boat", "ship", "tractor", "forklift", "excavator", "crane", "rocket",
    "wheel", "license-plate",
    # street and infrastructure
    "traffic-light", "traffic-sign", "stop-sign", "sign", "street-light", "fire-hydrant",
    "parking-meter", "traffic-cone", "bench", "fence", "utility-pole", "power-line", "mailbox",
    "trash-can", "crosswalk", "bridge", "building", "house", "skyscraper", "tower", "tent",
    "fountain", "statue", "flag", "billboard", "window", "door", "stairs", "solar-panel",
    "wind-turbine", "shipping-container", "pallet", "barrel", "box", "bucket", "ladder",
    # animals
    "dog", "cat", "bird", "chicken", "duck", "horse", "cow", "sheep", "goat", "pig", "deer",
    "elephant", "bear", "panda", "zebra", "giraffe", "lion", "tiger", "leopard", "monkey", "wolf",
    "fox", "rabbit", "squirrel", "camel", "fish", "shark", "whale", "turtle", "lizard", "snake",
    "frog", "insect", "butterfly", "spider", "crab",
    # food and drink
    "apple", "banana", "orange", "lemon", "strawberry", "pineapple", "broccoli", "carrot",
    "pepper", "pizza", "sandwich", "hamburger", "hot-dog", "bread", "cake", "donut", "ice-cream",
    "coffee", "wine",
    # furniture and household
    "chair", "couch", "bed", "table", "desk", "bookshelf", "lamp", "clock", "vase", "potted-plant",
    "mirror",
    # kitchen and bathroom
    "bottle", "cup", "drinking-glass", "plate", "bowl", "fork", "knife", "spoon", "pan",
    "refrigerator", "microwave", "oven", "stove", "toaster", "sink", "dishwasher", "toilet",
    "bathtub", "washing-machine",
    # electronics
    "laptop", "computer", "monitor", "television", "keyboard", "computer-mouse", "phone", "remote",
    "camera", "headphones", "printer",
    # clothing and personal items
    "backpack", "handbag", "suitcase", "umbrella", "sunglasses", "watch", "hat", "helmet", "shoe",
    "shirt", "coat", "dress", "tie",
    # sports and toys
    "ball", "kite", "frisbee", "skateboard", "surfboard", "skis", "snowboard", "racket",
    "baseball-bat", "teddy-bear", "toy",
    # tools and instruments
    "hammer", "screwdriver", "drill", "shovel", "scissors", "guitar", "piano", "violin",
    # everything else
    "book", "document", "balloon", "gun", "shopping-cart", "basket", "tree", "flower", "plant",
    "rock",
)  # fmt: skip

SCENES: tuple[str, ...] = (
    # setting
    "indoor", "outdoor", "urban", "suburban", "rural",
    # time of day
    "daytime", "nighttime", "sunset", "twilight",
    # weather
    "sunny", "cloudy", "overcast", "rainy", "snowy", "foggy", "stormy",
    # built places, outdoors
    "street", "highway", "intersection", "parking-lot", "sidewalk", "city",
    "residential-area", "industrial-area", "construction-site", "harbor", "airport",
    "train-station", "tunnel", "gas-station",
    # built places, indoors
    "office", "kitchen", "living-room", "bedroom", "bathroom", "dining-room", "restaurant",
    "cafe", "store", "supermarket", "shopping-mall", "warehouse", "factory", "laboratory",
    "hospital", "classroom", "library", "gym", "museum", "studio", "garage", "hallway",
    "stage",
    # leisure
    "park", "garden", "playground", "stadium", "sports-field", "swimming-pool",
    # nature
    "forest", "jungle", "field", "farm", "desert", "mountain", "beach", "ocean", "lake",
    "river", "waterfall", "cave", "underwater", "sky", "volcano", "wetland",
)  # fmt: skip

MEASURED_ATTRIBUTES: tuple[str, ...] = (
    "blurry", "dark", "bright", "low-light", "overexposed", "high-contrast", "low-contrast",
    "grayscale", "colorful",
)  # fmt: skip
"""The attributes ``image_stats.measured_attributes`` measures from pixels, for every model."""

ATTRIBUTES: tuple[str, ...] = (
    *MEASURED_ATTRIBUTES,
    # viewpoint and framing
    "close-up", "aerial-view", "top-down", "wide-angle", "panoramic", "selfie",
    # light and optics
    "motion-blur", "backlit", "silhouette", "reflection", "glare", "hazy", "grainy",
    # content and style
    "cluttered", "minimalist", "crowded", "text", "watermark", "screenshot", "illustration",
    "cartoon", "sketch", "painting", "3d-render", "vintage", "warm-tones", "cool-tones",
)  # fmt: skip

TAXONOMY: dict[str, tuple[str, ...]] = {
    "objects": OBJECTS,
    "scenes": SCENES,
    "attributes": ATTRIBUTES,
}

_IMAGENET_GROUPS: dict[str, tuple[int | range, ...]] = {
    # animals
    "fish": (0, 1, 5, 6, range(389, 398)),  # tench, goldfish, rays; barracouta … puffer
    "shark": (range(2, 5),),  # great white, tiger, hammerhead
    "chicken": (7, 8),  # cock, hen
    "bird": (range(9, 25), range(80, 97), 99, 100, range(127, 147)),  # finches … owls,
    # grouse … toucan, goose, black swan, storks … albatross
    "duck": (97, 98),  # drake, red-breasted merganser
    "frog": (range(30, 33),),  # bullfrog, tree frog, tailed frog
    "turtle": (range(33, 38),),  # loggerhead … box turtle
    "lizard": (range(38, 49),),  # banded gecko … Komodo dragon
    "snake": (range(52, 69),),  # thunder snake … sidewinder
    "spider": (range(72, 78),),  # garden spiders … wolf spider
    "crab": (range(118, 122), 125),  # Dungeness … king crab, hermit crab
    "whale": (147, 148),  # grey whale, killer whale
    "dog": (range(151, 269),),  # Chihuahua … Mexican hairless: every breed
    "wolf": (range(269, 272),),  # timber, white, red wolf
    "fox": (range(277, 281),),  # red, kit, Arctic, grey fox
    "cat": (range(281, 286),),  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    "leopard": (range(288, 291),),  # leopard, snow leopard, jaguar
    "lion": (291,),
    "tiger": (292,),
    "bear": (range(294, 298),),  # brown, black, ice, sloth bear
    "insect": (range(300, 321),),  # beetles, fly, bee, ant … dragonfly, damselfly
    "butterfly": (range(321, 327),),  # admiral … lycaenid
    "rabbit": (330, 331, 332),  # wood rabbit, hare, Angora
    "squirrel": (335,),  # fox squirrel
    "horse": (339,),  # sorrel
    "zebra": (340,),
    "pig": (341, 342),  # hog, wild boar
    "cow": (345,),  # ox
    "sheep": (348,),  # ram
    "camel": (354,),  # Arabian camel
    "monkey": (range(370, 383),),  # guenon … squirrel monkey
    "elephant": (101, 385, 386),  # tusker, Indian elephant, African elephant
    "panda": (388,),  # giant panda
    # vehicles
    "airplane": (404, 895, 908),  # airliner, warplane, wing
    "balloon": (417,),
    "ship": (403, 510, 628, 724),  # aircraft carrier, container ship, liner, pirate ship
    "boat": (472, 484, 554, 576, 625, 780, 814, 871, 914),  # canoe, catamaran, fireboat,
    # gondola, lifeboat, schooner, speedboat, trimaran, yawl
    "car": (436, 468, 511, 609, 627, 656, 661, 751, 817),  # beach wagon, cab, convertible,
    # jeep, limousine, minivan, Model T, racer, sports car
    "truck": (555, 569, 717, 803, 864, 867),  # fire engine, garbage truck, pickup,
    # snowplow, tow truck, trailer truck
    "van": (407, 675, 734),  # ambulance, moving van, police van
    "bus": (654, 779, 874),  # minibus, school bus, trolleybus
    "train": (466, 547, 565, 705, 820),  # bullet train, electric locomotive, freight car,
    # passenger car, steam locomotive
    "tram": (829,),  # streetcar
    "motorcycle": (665, 670),  # moped, motor scooter
    "bicycle": (444, 671),  # bicycle-built-for-two, mountain bike
    "tractor": (866,),
    "forklift": (561,),
    "crane": (517,),
    "rocket": (657, 744),  # missile, projectile
    "wheel": (479,),  # car wheel
    # street, buildings and outdoor things
    "traffic-light": (920,),
    "sign": (919,),  # street sign
    "parking-meter": (704,),
    "bench": (703,),  # park bench
    "fence": (489, 716, 912),  # chainlink fence, picket fence, worm fence
    "mailbox": (637,),
    "trash-can": (412,),  # ashcan
    "bridge": (821, 839, 888),  # steel arch bridge, suspension bridge, viaduct
    "building": (425, 483, 497, 498, 663, 668, 698),  # barn, castle, church, cinema,
    # monastery, mosque, palace
    "tower": (437, 900),  # beacon (lighthouse), water tower
    "tent": (672, 915),  # mountain tent, yurt
    "fountain": (562,),
    "flag": (557,),  # flagpole
    "barrel": (427, 756),  # barrel, rain barrel
    "box": (478, 519),  # carton, crate
    "bucket": (463,),
    # household
    "chair": (423, 559, 765, 857),  # barber chair, folding chair, rocking chair, throne
    "couch": (831,),  # studio couch
    "bed": (520, 564),  # crib, four-poster
    "table": (532,),  # dining table
    "desk": (526,),
    "bookshelf": (453,),  # bookcase
    "lamp": (619, 846),  # lampshade, table lamp
    "clock": (409, 530, 892),  # analog, digital, wall clock
    "vase": (883,),
    "potted-plant": (738,),  # pot, flowerpot
    "bottle": (440, 720, 737, 898, 907),  # beer, pill, pop, water, wine bottle
    "cup": (504, 968),  # coffee mug, cup
    "drinking-glass": (441, 572),  # beer glass, goblet
    "plate": (923,),
    "bowl": (659, 809),  # mixing bowl, soup bowl
    "knife": (499,),  # cleaver
    "spoon": (910,),  # wooden spoon
    "pan": (567, 909),  # frying pan, wok
    "refrigerator": (760,),
    "microwave": (651,),
    "stove": (827,),
    "toaster": (859,),
    "sink": (896,),  # washbasin
    "dishwasher": (534,),
    "toilet": (861,),  # toilet seat
    "bathtub": (435, 876),  # bathtub, tub
    "washing-machine": (897,),  # washer
    # electronics
    "laptop": (620, 681),  # laptop, notebook computer
    "computer": (527,),  # desktop computer
    "monitor": (664, 782),  # monitor, screen
    "television": (851,),
    "keyboard": (508, 810, 878),  # computer keyboard, space bar, typewriter keyboard
    "computer-mouse": (673,),  # mouse
    "phone": (487, 528, 707),  # cellular, dial, pay-phone
    "remote": (761,),  # remote control
    "camera": (732, 759),  # Polaroid camera, reflex camera
    "printer": (742, 713),  # printer, photocopier
    # clothing and personal items
    "backpack": (414,),
    "handbag": (748,),  # purse
    "umbrella": (879,),
    "sunglasses": (836, 837),  # sunglass, sunglasses
    "watch": (531, 826),  # digital watch, stopwatch
    "hat": (515, 808),  # cowboy hat, sombrero
    "helmet": (518, 560),  # crash helmet, football helmet
    "shoe": (502, 514, 630, 770, 774),  # clog, cowboy boot, Loafer, running shoe, sandal
    "shirt": (610, 841),  # jersey, sweatshirt
    "coat": (568, 869),  # fur coat, trench coat
    "dress": (578,),  # gown
    "tie": (451, 457, 906),  # bolo tie, bow tie, Windsor tie
    # sports and toys
    "ball": (429, 430, 522, 574, 722, 768, 805, 852, 890),  # baseball … volleyball
    "skis": (795,),  # ski
    "racket": (752,),
    "teddy-bear": (850,),  # teddy
    # tools and instruments
    "hammer": (587,),
    "screwdriver": (784,),
    "drill": (740,),  # power drill
    "shovel": (792,),
    "guitar": (402, 420, 546),  # acoustic guitar, banjo, electric guitar
    "piano": (579, 881),  # grand piano, upright
    "violin": (889,),
    # everything else
    "book": (917, 921),  # comic book, book jacket
    "gun": (413, 763, 764),  # assault rifle, revolver, rifle
    "shopping-cart": (791,),
    "basket": (790,),  # shopping basket
    "flower": (984, 985, 986),  # rapeseed, daisy, yellow lady's slipper
    "person": (981, 982, 983),  # ballplayer, groom, scuba diver
    # food and drink
    "apple": (948,),  # Granny Smith
    "banana": (954,),
    "orange": (950,),
    "lemon": (951,),
    "strawberry": (949,),
    "pineapple": (953,),
    "broccoli": (937,),
    "pepper": (945,),  # bell pepper
    "pizza": (963,),
    "hamburger": (933,),  # cheeseburger
    "hot-dog": (934,),  # hotdog
    "bread": (930, 931, 932),  # French loaf, bagel, pretzel
    "ice-cream": (928, 929),  # ice cream, ice lolly
    "coffee": (967,),  # espresso
    "wine": (966,),  # red wine
}
"""Taxonomy object → the ImageNet-1k classes that are clearly that object."""


def _expand(groups: dict[str, tuple[int | range, ...]]) -> dict[int, str]:
    table: dict[int, str] = {}
    for label, parts in groups.items():
        for part in parts:
            for index in part if isinstance(part, range) else (part,):
                if index in table:
                    raise ValueError(f"ImageNet class {index} mapped twice")
                table[index] = label
    return dict(sorted(table.items()))


IMAGENET_OBJECTS: dict[int, str] = _expand(_IMAGENET_GROUPS)
"""ImageNet-1k class index → taxonomy object, for the classes that map clearly."""

DIGEST: str = hashlib.sha256(
    json.dumps([TAXONOMY, sorted(IMAGENET_OBJECTS.items())]).encode()
).hexdigest()[:8]
"""Changes with the taxonomy: backends fold it into their version, so tags are re-made."""

_SEPARATORS = re.compile(r"[\s_\-]+")
_KNOWN: dict[str, frozenset[str]] = {
    category: frozenset(labels) for category, labels in TAXONOMY.items()
}


def normalize_tag(text: str) -> str:
    """The taxonomy form of a tag as typed: lower case, words joined by single hyphens.

    ``"High Contrast"``, ``"high_contrast"`` and ``" high--contrast "`` all become
    ``"high-contrast"``, so a search matches however the tag was written.
    """
    return _SEPARATORS.sub("-", text.strip().lower()).strip("-")


def is_known(category: str, tag: str) -> bool:
    """Whether ``tag`` (in any spelling :func:`normalize_tag` accepts) is in the category."""
    return normalize_tag(tag) in _KNOWN.get(category, frozenset())
