"""The transformers backends, run for real on tiny randomly initialised models.

Each model is built from a small config, saved with ``save_pretrained`` beside a processor whose
tokenizer is written from a hand-made vocabulary, and loaded back through the registry, so loading,
pre- and post-processing all run as they do with the real weights. SAM 3 and SAM 2.1 are saved as
their video models, the layout of the published checkpoints: SAM 3's ``sam3_video`` config holds the
detector and the tracker, so both of its loaders read one directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pictograph.vision import registry
from pictograph.vision.base import ImageEmbedding, PromptSegmenter, TextDetector
from pictograph.vision.registry import ModelLocation, get_spec

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

HEIGHT, WIDTH = 60, 90
"""A non-square test image, so any squashing or padding mistake shows."""
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(autouse=True, scope="module")
def quiet_transformers() -> Iterator[None]:
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    yield
    transformers.logging.set_verbosity(verbosity)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 60, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    picture[10:40, 20:60] = (220, 40, 40)
    return picture


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def clip_tokenizer(max_length: int) -> Any:
    """A CLIP BPE tokenizer over single letters: enough to tokenise any lower-case prompt.

    The special tokens come last, as in CLIP: OWLv2 treats a query starting with token 0 as padding.
    """
    vocab: dict[str, int] = {}
    for symbol in LETTERS + ".":
        vocab[symbol] = len(vocab)
        vocab[symbol + "</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return transformers.CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def special_ids(tokenizer: Any) -> dict[str, int]:
    ids = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    return dict(zip(("bos_token_id", "eos_token_id", "pad_token_id"), ids))


def bert_tokenizer() -> Any:
    tokens = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        ".",
        *LETTERS,
        "cat",
        "dog",
        "red",
        "car",
    ]
    tokens += [f"##{letter}" for letter in LETTERS]
    return transformers.BertTokenizer(vocab={token: i for i, token in enumerate(tokens)})


def load(name: str, group: str, models_dir: Path) -> Any:
    location, reason = registry.locate(get_spec(name), models_dir)
    assert location is not None, reason
    assert location == ModelLocation(models_dir / name, "models_dir")
    return registry.load_backend(get_spec(name), group, location, "cpu")  # type: ignore[arg-type]


def save_sam3(directory: Path) -> None:
    """A tiny SAM 3 in the published layout: ``tracker_model.*`` keys beside ``detector_model.*``.

    ``save_pretrained`` of the video model would nest the tracker prefix twice, so the weights
    are written straight from its state dict.
    """
    from safetensors.torch import save_file
    from transformers.models.sam3 import configuration_sam3 as c

    size, patch = 112, 14
    grid = size // patch

    def vision() -> Any:
        backbone = c.Sam3ViTConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=size,
            patch_size=patch,
            window_size=grid,
            global_attn_indexes=[1],
            pretrain_image_size=size,
        )
        features = [[4 * grid] * 2, [2 * grid] * 2, [grid] * 2]
        return c.Sam3VisionConfig(
            backbone_config=backbone, fpn_hidden_size=32, backbone_feature_sizes=features
        )

    tokenizer = clip_tokenizer(32)
    small = {"num_attention_heads": 4, "intermediate_size": 64, "hidden_size": 32}
    detector = c.Sam3Config(
        vision_config=vision(),
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "projection_dim": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "max_position_embeddings": 32,
            **special_ids(tokenizer),
        },
        geometry_encoder_config=c.Sam3GeometryEncoderConfig(num_layers=1, **small),
        detr_encoder_config=c.Sam3DETREncoderConfig(num_layers=1, **small),
        detr_decoder_config=c.Sam3DETRDecoderConfig(num_layers=1, num_queries=6, **small),
        mask_decoder_config=c.Sam3MaskDecoderConfig(
            hidden_size=32, num_upsampling_stages=2, num_attention_heads=4
        ),
    )
    tracker = transformers.Sam3TrackerVideoConfig(
        vision_config=vision(),
        image_size=size,
        prompt_encoder_config={"hidden_size": 32, "image_size": size, "patch_size": patch},
        mask_decoder_config={
            "hidden_size": 32,
            "mlp_dim": 64,
            "num_attention_heads": 4,
            "iou_head_hidden_dim": 32,
        },
        memory_attention_hidden_size=32,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[grid, grid],
        memory_encoder_hidden_size=32,
        memory_encoder_output_channels=16,
        mask_downsampler_embed_dim=32,
        memory_fuser_embed_dim=32,
        memory_fuser_intermediate_dim=64,
        memory_fuser_num_layers=1,
    )
    config = transformers.Sam3VideoConfig(detector_config=detector, tracker_config=tracker)
    model = transformers.Sam3VideoModel(config)
    config.save_pretrained(directory)
    weights = {key: value.contiguous() for key, value in model.state_dict().items()}
    save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})
    image_processor = transformers.Sam3ImageProcessor(size={"height": size, "width": size})
    transformers.Sam3Processor(image_processor, tokenizer).save_pretrained(directory)


def save_sam2(directory: Path) -> None:
    """A tiny SAM 2.1 saved as its video model, as published: the image model skips the memory."""
    size = 128
    backbone = transformers.Sam2HieraDetConfig(
        hidden_size=12,
        image_size=[size, size],
        blocks_per_stage=[1, 1, 2, 1],
        embed_dim_per_stage=[12, 24, 48, 96],
        num_attention_heads_per_stage=[1, 1, 2, 2],
        window_size_per_stage=[8, 4, 4, 2],
        global_attention_blocks=[3],
    )
    vision = transformers.Sam2VisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[96, 48, 24, 12],
        backbone_feature_sizes=[[32, 32], [16, 16], [8, 8]],
        fpn_hidden_size=32,
    )
    config = transformers.Sam2VideoConfig(
        vision_config=vision,
        image_size=size,
        prompt_encoder_config={"hidden_size": 32, "image_size": size, "patch_size": 16},
        mask_decoder_config={
            "hidden_size": 32,
            "mlp_dim": 64,
            "num_attention_heads": 4,
            "iou_head_hidden_dim": 32,
        },
        memory_attention_hidden_size=32,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[8, 8],
        memory_encoder_hidden_size=32,
        memory_encoder_output_channels=16,
        mask_downsampler_embed_dim=32,
        memory_fuser_embed_dim=32,
        memory_fuser_intermediate_dim=64,
        memory_fuser_num_layers=1,
    )
    transformers.Sam2VideoModel(config).save_pretrained(directory)
    image_processor = transformers.Sam2ImageProcessor(size={"height": size, "width": size})
    transformers.Sam2Processor(image_processor).save_pretrained(directory)


def save_owlv2(directory: Path) -> None:
    tokenizer = clip_tokenizer(16)
    config = transformers.Owlv2Config(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "max_position_embeddings": 16,
            **special_ids(tokenizer),
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "image_size": 64,
            "patch_size": 16,
        },
        projection_dim=32,
    )
    transformers.Owlv2ForObjectDetection(config).save_pretrained(directory)
    image_processor = transformers.Owlv2ImageProcessor(size={"height": 64, "width": 64})
    transformers.Owlv2Processor(image_processor, tokenizer).save_pretrained(directory)


def save_grounding_dino(directory: Path) -> None:
    tokenizer = bert_tokenizer()
    backbone = transformers.SwinConfig(
        window_size=4,
        embed_dim=8,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        image_size=64,
        out_features=["stage2", "stage3", "stage4"],
    )
    config = transformers.GroundingDinoConfig(
        backbone_config=backbone,
        use_timm_backbone=False,
        text_config={
            "model_type": "bert",
            "vocab_size": len(tokenizer),
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 16,
            "max_position_embeddings": 32,
        },
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_queries=8,
        num_feature_levels=4,
        encoder_n_points=2,
        decoder_n_points=2,
        max_text_len=32,
    )
    transformers.GroundingDinoForObjectDetection(config).save_pretrained(directory)
    image_processor = transformers.GroundingDinoImageProcessor(
        size={"shortest_edge": 64, "longest_edge": 96}
    )
    transformers.GroundingDinoProcessor(image_processor, tokenizer).save_pretrained(directory)


BUILDERS = {
    "sam3": save_sam3,
    "sam2.1": save_sam2,
    "owlv2": save_owlv2,
    "grounding-dino": save_grounding_dino,
}


@pytest.fixture(scope="module")
def built(models_dir: Path) -> Any:
    """Build a model into ``models_dir/<name>`` once per module, seeded for repeatable scores."""

    def build(name: str) -> Path:
        directory = models_dir / name
        if not directory.exists():
            directory.mkdir()
            torch.manual_seed(0)
            BUILDERS[name](directory)
        return directory

    return build


@pytest.fixture(scope="module", params=["sam3", "sam2.1"])
def segmenter(request: pytest.FixtureRequest, built: Any, models_dir: Path) -> PromptSegmenter:
    built(request.param)
    backend = load(request.param, "segment", models_dir)
    assert isinstance(backend, PromptSegmenter)
    return backend


@pytest.fixture(scope="module")
def sam3_concepts(built: Any, models_dir: Path) -> TextDetector:
    built("sam3")
    return load("sam3", "text", models_dir)


@pytest.fixture(scope="module")
def owlv2(built: Any, models_dir: Path) -> TextDetector:
    built("owlv2")
    return load("owlv2", "text", models_dir)


@pytest.fixture(scope="module")
def grounding_dino(built: Any, models_dir: Path) -> TextDetector:
    built("grounding-dino")
    return load("grounding-dino", "text", models_dir)


@contextmanager
def counting_calls(module: Any) -> Iterator[list[int]]:
    """A one-item list counting the module's forward calls while the block runs."""
    calls = [0]
    handle = module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    try:
        yield calls
    finally:
        handle.remove()


def assert_mask(mask: Any) -> None:
    assert isinstance(mask, np.ndarray)
    assert mask.dtype == np.bool_
    assert mask.shape == (HEIGHT, WIDTH)


def assert_inside(box: tuple[float, float, float, float]) -> None:
    x1, y1, x2, y2 = box
    assert 0 <= x1 <= x2 <= WIDTH
    assert 0 <= y1 <= y2 <= HEIGHT


def clipped(box: list[float]) -> tuple[float, ...]:
    x1, y1, x2, y2 = box
    return (
        min(max(x1, 0), WIDTH),
        min(max(y1, 0), HEIGHT),
        min(max(x2, 0), WIDTH),
        min(max(y2, 0), HEIGHT),
    )


BOXES = [(20.0, 10.0, 60.0, 40.0), (0.0, 0.0, 45.0, 30.0), (50.0, 25.0, 90.0, 60.0)]


def test_segmenter_names_and_embedding(segmenter: PromptSegmenter, image: np.ndarray) -> None:
    embedding = segmenter.embed(image)
    assert (
        segmenter.name
        == {"Sam3TrackerModel": "sam3", "Sam2Model": "sam2.1"}[
            type(segmenter.model).__name__  # type: ignore[attr-defined]
        ]
    )
    assert embedding.model == segmenter.name
    assert embedding.image_size == (HEIGHT, WIDTH)
    assert embedding.nbytes > 0


def test_segment_boxes_batches_in_order(segmenter: PromptSegmenter, image: np.ndarray) -> None:
    embedding = segmenter.embed(image)
    batched = segmenter.segment_boxes(embedding, BOXES)
    assert len(batched) == len(BOXES)
    for box, prediction in zip(BOXES, batched):
        assert_mask(prediction.mask)
        assert_inside(prediction.box)
        assert 0.0 <= prediction.score <= 1.0
        alone = segmenter.segment_boxes(embedding, [box])[0]
        assert alone.score == pytest.approx(prediction.score, abs=1e-4)
        assert (alone.mask != prediction.mask).mean() < 0.01


def test_negative_boxes_remove_pixels(segmenter: PromptSegmenter, image: np.ndarray) -> None:
    embedding = segmenter.embed(image)
    whole = segmenter.segment_boxes(embedding, [(0.0, 0.0, 90.0, 60.0)])[0]
    cut = segmenter.segment_boxes(embedding, [(0.0, 0.0, 90.0, 60.0)], [(0.0, 0.0, 45.0, 60.0)])[0]
    assert whole.mask is not None and cut.mask is not None
    assert not cut.mask[:, :45].any()
    assert np.array_equal(cut.mask[:, 45:], whole.mask[:, 45:])
    if cut.mask.any():
        assert cut.box[0] >= 45


def test_segment_points(segmenter: PromptSegmenter, image: np.ndarray) -> None:
    embedding = segmenter.embed(image)
    assert segmenter.segment_points(embedding, []) is None
    for positives, negatives in [([(40.0, 25.0)], []), ([(40.0, 25.0), (30.0, 20.0)], [(80, 55)])]:
        prediction = segmenter.segment_points(embedding, positives, negatives)
        if prediction is not None:  # random weights may find nothing
            assert_mask(prediction.mask)
            assert prediction.mask.any()
            assert_inside(prediction.box)
            assert 0.0 <= prediction.score <= 1.0


def test_embedding_is_reused(segmenter: PromptSegmenter, image: np.ndarray) -> None:
    with counting_calls(segmenter.model.vision_encoder) as calls:  # type: ignore[attr-defined]
        embedding = segmenter.embed(image)
        assert calls == [1]
        segmenter.segment_boxes(embedding, BOXES[:2])
        segmenter.segment_points(embedding, [(40.0, 25.0)])
        segmenter.segment_boxes(embedding, BOXES[2:])
    assert calls == [1]


def test_segmenter_rejects_foreign_embedding(segmenter: PromptSegmenter) -> None:
    foreign = ImageEmbedding("litemedsam", (HEIGHT, WIDTH), None, 0)
    with pytest.raises(ValueError, match="litemedsam"):
        segmenter.segment_boxes(foreign, BOXES)


def test_sam3_concepts_masks_and_boxes(sam3_concepts: TextDetector, image: np.ndarray) -> None:
    assert sam3_concepts.name == "sam3"
    prompts = ["red box", "cat"]
    with counting_calls(sam3_concepts.model.vision_encoder) as calls:  # type: ignore[attr-defined]
        predictions = sam3_concepts.detect(image, prompts, 0.0)
    assert calls == [1]
    assert predictions
    assert {p.label for p in predictions} <= set(prompts)
    for prediction in predictions:
        assert_mask(prediction.mask)
        assert prediction.mask.any()
        assert_inside(prediction.box)
        assert 0.0 <= prediction.score <= 1.0


def test_sam3_concepts_match_the_processor(sam3_concepts: TextDetector, image: np.ndarray) -> None:
    """The instances of ``post_process_instance_segmentation``, boxes scaled by width and height."""
    model, processor = sam3_concepts.model, sam3_concepts.processor  # type: ignore[attr-defined]
    with torch.inference_mode():
        outputs = model(**processor(images=image, text="cat", return_tensors="pt"))
    expected = processor.post_process_instance_segmentation(
        outputs, threshold=0.0, target_sizes=[(HEIGHT, WIDTH)]
    )[0]
    raw_boxes = outputs.pred_boxes[0] * torch.tensor([WIDTH, HEIGHT, WIDTH, HEIGHT])
    kept = [i for i, mask in enumerate(expected["masks"]) if mask.any()]
    predictions = sam3_concepts.detect(image, ["cat"], 0.0)
    assert len(predictions) == len(kept) > 0
    for prediction, i in zip(predictions, kept):
        assert prediction.score == pytest.approx(float(expected["scores"][i]), abs=1e-6)
        assert prediction.box == pytest.approx(clipped(expected["boxes"][i].tolist()), abs=1e-4)
        assert prediction.box == pytest.approx(clipped(raw_boxes[i].tolist()), abs=1e-4)
        assert np.array_equal(prediction.mask, expected["masks"][i].bool().numpy())


def test_text_thresholds_filter(
    sam3_concepts: TextDetector,
    owlv2: TextDetector,
    grounding_dino: TextDetector,
    image: np.ndarray,
) -> None:
    for detector in (sam3_concepts, owlv2, grounding_dino):
        everything = detector.detect(image, ["red car", "dog"], 0.0)
        assert everything, detector.name
        assert detector.detect(image, ["red car", "dog"], 1.0) == []
        middle = float(np.median([p.score for p in everything]))
        kept = detector.detect(image, ["red car", "dog"], middle)
        assert 0 < len(kept) < len(everything) or len({p.score for p in everything}) == 1
        assert all(p.score >= middle for p in kept)
        assert detector.detect(image, [], 0.0) == []


def test_long_prompts_are_truncated(
    sam3_concepts: TextDetector,
    owlv2: TextDetector,
    grounding_dino: TextDetector,
    image: np.ndarray,
) -> None:
    prompt = "a small red car parked beside a tall tree " * 3  # over every text encoder's length
    for detector in (sam3_concepts, owlv2, grounding_dino):
        predictions = detector.detect(image, [prompt, "dog"], 0.0)
        assert {p.label for p in predictions} <= {prompt, "dog"}


def test_owlv2_boxes_map_back_from_the_padded_square(
    owlv2: TextDetector, image: np.ndarray
) -> None:
    """OWLv2 pads to a square, so its boxes are fractions of the longer side (the width here)."""
    model, processor = owlv2.model, owlv2.processor  # type: ignore[attr-defined]
    prompts = ["cat", "red car"]
    with torch.inference_mode():
        outputs = model(**processor(text=[prompts], images=image, return_tensors="pt"))
    cx, cy, w, h = outputs.pred_boxes[0].unbind(-1)
    side = max(HEIGHT, WIDTH)
    expected = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1) * side
    predictions = owlv2.detect(image, prompts, 0.0)
    assert len(predictions) == expected.shape[0]
    for prediction, box in zip(predictions, expected.tolist()):
        assert prediction.box == pytest.approx(clipped(box), abs=1e-3)
        assert prediction.mask is None
        assert prediction.label in prompts
        assert 0.0 <= prediction.score <= 1.0


def test_grounding_dino_boxes_and_labels(grounding_dino: TextDetector, image: np.ndarray) -> None:
    model, processor = grounding_dino.model, grounding_dino.processor  # type: ignore[attr-defined]
    prompts = ["Red car", "dog"]
    with torch.inference_mode():
        inputs = processor(images=image, text="red car. dog.", return_tensors="pt")
        outputs = model(**inputs)
    cx, cy, w, h = outputs.pred_boxes[0].unbind(-1)
    scale = torch.tensor([WIDTH, HEIGHT, WIDTH, HEIGHT])
    expected = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1) * scale
    tokens = processor.tokenizer("red car. dog.").input_ids
    assert tokens[1:-1] == processor.tokenizer.convert_tokens_to_ids(
        ["red", "car", ".", "dog", "."]
    )
    probabilities = outputs.logits[0].sigmoid()
    car_scores = probabilities[:, 1:3].amax(-1)
    dog_scores = probabilities[:, 4]
    predictions = grounding_dino.detect(image, prompts, 0.0)
    assert len(predictions) == expected.shape[0]
    for i, prediction in enumerate(predictions):
        assert prediction.mask is None
        assert prediction.box == pytest.approx(clipped(expected[i].tolist()), abs=1e-3)
        car, dog = float(car_scores[i]), float(dog_scores[i])
        assert prediction.label == (prompts[0] if car >= dog else prompts[1])
        assert prediction.score == pytest.approx(max(car, dog), abs=1e-5)


def test_locate_finds_a_weights_dir_and_says_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    spec = get_spec("sam2.1")
    location, reason = registry.locate(spec, tmp_path)
    assert location is None
    assert reason is not None
    assert str(tmp_path / "sam2.1") in reason and "pictograph models pull sam2.1" in reason
    (tmp_path / "sam2.1").mkdir()
    (tmp_path / "sam2.1" / "config.json").write_text("{}")
    assert registry.locate(spec, tmp_path)[0] is None
    (tmp_path / "sam2.1" / "model.safetensors").write_bytes(b"")
    location, reason = registry.locate(spec, tmp_path)
    assert location == ModelLocation(tmp_path / "sam2.1", "models_dir")
    assert reason is None
