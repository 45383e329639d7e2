"""The agent tool registry: the 28 tools every integration path exposes, in one table.

Each tool pairs a Pydantic input model (its JSON Schema is what an agent sees; ``extra="forbid"``
so a misspelt argument fails instead of being silently dropped) with the SDK call it makes, plus
the metadata the guardrails and ``/tools.json`` need: the minimum key role, the approximate
credit cost, whether a retry is safe. The toolkit and the adapters derive everything from this
table (and a tools endpoint or MCP server should too: :func:`tools_payload` needs no client), so a
tool is added or changed here and nowhere else.

Descriptions lead with "Use when …": agents choose between tools by reading them. Argument
names follow the SDK (``dataset_name``, ``image_uuid``) so what an agent learnt from the SDK
docs carries over.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from pictograph import workflows
from pictograph._version import __version__
from pictograph.models.annotation import AnnotationType
from pictograph.models.api_key import ApiKeyRole
from pictograph.models.auto_annotate import BatchClass
from pictograph.models.common import BoundingBox
from pictograph.models.connector import ConnectorProvider
from pictograph.models.export import ExportFormat, StatusFilter
from pictograph.models.training import GpuType, PipelineType

if TYPE_CHECKING:
    from pictograph.client import Client

Role = ApiKeyRole
ROLE_RANK: dict[str, int] = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
"""The key-role hierarchy, lowest first, as the server enforces it."""

Category = Literal[
    "Workflows",
    "Datasets",
    "Images",
    "Annotations",
    "Auto-annotate",
    "Search",
    "Exports",
    "Training",
    "Models",
    "Credits",
    "Connectors",
]


class ToolInput(BaseModel):
    """Base of every tool's arguments: an agent must pass exactly the declared fields."""

    model_config = ConfigDict(extra="forbid")


InputT = TypeVar("InputT", bound=ToolInput)


@dataclass(frozen=True)
class ToolSpec(Generic[InputT]):
    """One agent-callable tool.

    ``run(client, args)`` makes the SDK calls and returns JSON-serialisable data.
    ``credit_cost`` is the documented approximate cost (0 for free tools), which the toolkit's
    credit gate checks against the balance; the server's own 402 stays authoritative.
    ``destructive`` marks the tools agents must confirm with the user first.
    """

    name: str
    category: Category
    description: str
    input_model: type[InputT]
    run: Callable[[Client, InputT], Any]
    required_role: Role
    credit_cost: int
    idempotent: bool
    destructive: bool = False

    @property
    def input_schema(self) -> dict[str, Any]:
        return json_schema(self.input_model)

    def descriptor(self) -> dict[str, Any]:
        """The tool's entry in ``/tools.json``."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
            "required_role": self.required_role,
            "credit_cost": self.credit_cost,
            "idempotent": self.idempotent,
        }


_TOOLS: list[ToolSpec[Any]] = []


def _tool(
    name: str,
    category: Category,
    input_model: type[InputT],
    *,
    description: str,
    role: Role,
    idempotent: bool,
    cost: int = 0,
    destructive: bool = False,
) -> Callable[[Callable[[Client, InputT], Any]], Callable[[Client, InputT], Any]]:
    """Register the decorated function as the tool's ``run``, in declaration order."""

    def register(run: Callable[[Client, InputT], Any]) -> Callable[[Client, InputT], Any]:
        _TOOLS.append(
            ToolSpec(
                name=name,
                category=category,
                description=description,
                input_model=input_model,
                run=run,
                required_role=role,
                credit_cost=cost,
                idempotent=idempotent,
                destructive=destructive,
            )
        )
        return run

    return register


def to_json(value: Any) -> Any:
    """SDK models and workflow reports as plain JSON data; unset fields are left out (tokens)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def _report(report: Any) -> dict[str, Any]:
    """A workflow report with its ``success`` verdict, which is a property and not a field."""
    return {**to_json(report), "success": report.success}


def _listing(key: str, items: list[Any]) -> dict[str, Any]:
    return {key: to_json(items), "count": len(items)}


# ───────────── workflows ─────────────

_CLASSES = Field(
    min_length=1,
    description=(
        "Classes to find, e.g. [{'name': 'car', 'output_type': 'bbox'}]. output_type is "
        "'polygon' (default), 'bbox', 'polyline', 'keypoint' or 'tag'; 'prompt' optionally "
        "says what to look for when it differs from the class name."
    ),
)
_PIPELINE = Field(
    description=(
        "Training pipeline: yolox = object detection, detectron2 = instance segmentation, "
        "sm_pytorch = semantic segmentation, classification = image-level labels, "
        "rfdetr_detection / rfdetr_segmentation = DETR-based."
    ),
)
_GPU = Field(default="a10g", description="GPU tier; higher tiers cost more credits per minute.")
_CONFIG = Field(
    default=None,
    description=(
        "Training hyperparameters: epochs, batch_size, learning_rate, image_size. "
        "Omitted ones take the pipeline's defaults."
    ),
)


class UploadDatasetFromFolderInput(ToolInput):
    dataset_name: str = Field(description="Destination dataset; created when missing.")
    folder: str = Field(
        description=(
            "Local folder, walked recursively. Supported: jpg, jpeg, png, webp, bmp, tif, tiff, "
            "gif, heic."
        )
    )
    organize_by_class: bool = Field(
        default=True,
        description=(
            "Each first-level subfolder becomes a virtual folder ('cars/x.jpg' lands in "
            "'/cars'); false puts every image at the root."
        ),
    )
    max_workers: int = Field(default=8, ge=1, le=32, description="Parallel uploads.")
    skip_existing: bool = Field(
        default=True,
        description="Count images already in the same folder as skipped rather than failed.",
    )


@_tool(
    "upload_dataset_from_folder",
    "Workflows",
    UploadDatasetFromFolderInput,
    role="member",
    idempotent=False,
    description=(
        "Use when the user asks to upload a folder of images to a dataset. Walks the folder "
        "recursively, creates the dataset if needed and uploads every supported image; "
        "subfolders become virtual folders. Returns a report with per-file failures — a "
        "partial success does not raise."
    ),
)
def _upload_dataset_from_folder(client: Client, args: UploadDatasetFromFolderInput) -> Any:
    report = workflows.upload_dataset_from_folder(
        client,
        args.dataset_name,
        args.folder,
        organize_by_class=args.organize_by_class,
        max_workers=args.max_workers,
        skip_existing=args.skip_existing,
    )
    return _report(report)


class AutoAnnotateDatasetInput(ToolInput):
    dataset_name: str = Field(description="Dataset to annotate; it must exist.")
    classes: list[BatchClass] = _CLASSES
    mode: workflows.AnnotateMode = Field(
        default="batch",
        description=(
            "'batch' (default): one server-side job over many images. 'text': one synchronous "
            "text prompt per image — slow, for small datasets or retrying failed images."
        ),
    )
    confidence_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Detections scoring below this are dropped."
    )
    overwrite: bool = Field(
        default=False,
        description="Re-annotate images that already have annotations (skipped by default).",
    )
    max_images: int | None = Field(
        default=None, ge=1, description="Process at most this many images (a cheap trial)."
    )


@_tool(
    "auto_annotate_dataset",
    "Workflows",
    AutoAnnotateDatasetInput,
    role="member",
    idempotent=False,
    cost=10,
    description=(
        "Use when the user wants a whole dataset auto-annotated with one or more classes. "
        "'batch' mode runs one job over many images (best beyond ~10 images); 'text' mode "
        "prompts image by image. Images that already have annotations are skipped unless "
        "overwrite is true. Costs credits: check estimate_credit_cost first."
    ),
)
def _auto_annotate_dataset(client: Client, args: AutoAnnotateDatasetInput) -> Any:
    report = workflows.auto_annotate_dataset(
        client,
        args.dataset_name,
        args.classes,
        mode=args.mode,
        confidence_threshold=args.confidence_threshold,
        overwrite=args.overwrite,
        max_images=args.max_images,
    )
    return _report(report)


class TrainPipelineInput(ToolInput):
    dataset_name: str = Field(description="Dataset whose complete (annotated) images train.")
    pipeline: PipelineType = _PIPELINE
    gpu: GpuType = _GPU
    name: str | None = Field(
        default=None, description="Training run name; a timestamped one by default."
    )
    config: dict[str, Any] | None = _CONFIG
    wait: bool = Field(
        default=True,
        description=(
            "Wait for the run to finish and return the model; false returns the queued run "
            "at once (follow it with get_training_status)."
        ),
    )


@_tool(
    "train_pipeline",
    "Workflows",
    TrainPipelineInput,
    role="member",
    idempotent=False,
    cost=100,
    description=(
        "Use when the user wants to train a computer-vision model on an annotated dataset. "
        "Exports the dataset, trains the chosen pipeline on the chosen GPU tier and, when "
        "wait is true, returns the run with its trained model. Costs credits per GPU minute: "
        "check estimate_credit_cost first."
    ),
)
def _train_pipeline(client: Client, args: TrainPipelineInput) -> Any:
    run, model = workflows.train_pipeline(
        client,
        args.dataset_name,
        pipeline=args.pipeline,
        gpu=args.gpu,
        name=args.name,
        config=args.config,
        wait=args.wait,
    )
    return {"training_run": to_json(run), "model": to_json(model)}


class FullPipelineInput(ToolInput):
    dataset_name: str = Field(description="Destination dataset; created when missing.")
    folder: str = Field(description="Local folder of images to upload.")
    classes: list[BatchClass] = _CLASSES
    pipeline: PipelineType = _PIPELINE
    gpu: GpuType = _GPU
    annotate: bool = Field(
        default=True,
        description="Auto-annotate after the upload; false when the images are annotated already.",
    )
    train: bool = Field(default=True, description="Train after annotating; false stops there.")
    config: dict[str, Any] | None = _CONFIG


@_tool(
    "full_pipeline",
    "Workflows",
    FullPipelineInput,
    role="member",
    idempotent=False,
    cost=110,
    description=(
        "Use when the user wants the whole 'folder of images in, trained model out' job: "
        "upload, then auto-annotate, then train. Each phase runs only if the previous one "
        "succeeded, and the report carries every phase's report so you can tell where it "
        "stopped. Costs credits: check estimate_credit_cost first."
    ),
)
def _full_pipeline(client: Client, args: FullPipelineInput) -> Any:
    report = workflows.full_pipeline(
        client,
        dataset_name=args.dataset_name,
        folder=args.folder,
        classes=args.classes,
        pipeline=args.pipeline,
        gpu=args.gpu,
        annotate=args.annotate,
        train=args.train,
        train_config=args.config,
    )
    return _report(report)


# ───────────── datasets ─────────────


class ListDatasetsInput(ToolInput):
    limit: int = Field(default=100, ge=1, le=1000, description="Most datasets to return.")


@_tool(
    "list_datasets",
    "Datasets",
    ListDatasetsInput,
    role="viewer",
    idempotent=True,
    description=(
        "Use when you need the datasets in the user's organization: names, image counts "
        "and classes."
    ),
)
def _list_datasets(client: Client, args: ListDatasetsInput) -> Any:
    return _listing("datasets", client.datasets.list(limit=args.limit))


class GetDatasetInput(ToolInput):
    name: str = Field(description="Dataset name (case-sensitive).")
    include_images: bool = Field(
        default=False,
        description="Also return image summaries (id, filename, folder, status, annotation count).",
    )
    images_limit: int = Field(
        default=1000, ge=1, le=10000, description="Most image summaries to return."
    )


@_tool(
    "get_dataset",
    "Datasets",
    GetDatasetInput,
    role="viewer",
    idempotent=True,
    description=(
        "Use when you need one dataset's details by name: counts and classes, and with "
        "include_images its image ids and filenames — what the image tools take."
    ),
)
def _get_dataset(client: Client, args: GetDatasetInput) -> Any:
    return to_json(
        client.datasets.get(
            args.name, include_images=args.include_images, images_limit=args.images_limit
        )
    )


class DatasetClass(ToolInput):
    name: str = Field(min_length=1, max_length=120, description="Class label.")
    type: AnnotationType | None = Field(
        default=None, description="Annotation type the class is drawn with."
    )


class CreateDatasetInput(ToolInput):
    name: str = Field(description="Dataset name, unique within the organization.")
    description: str | None = Field(default=None, description="Free-text description.")
    classes: list[DatasetClass] = Field(
        default_factory=list,
        description=(
            "The dataset's classes, e.g. [{'name': 'car', 'type': 'bbox'}]; saved annotations "
            "must use one of them."
        ),
    )


@_tool(
    "create_dataset",
    "Datasets",
    CreateDatasetInput,
    role="member",
    idempotent=False,
    description=(
        "Use when the user explicitly asks for a new, empty dataset, optionally with its "
        "classes. The workflow tools create their dataset themselves, so this is rarely "
        "needed before them."
    ),
)
def _create_dataset(client: Client, args: CreateDatasetInput) -> Any:
    types = list(dict.fromkeys(c.type for c in args.classes if c.type is not None))
    project = client.projects.create(
        args.name,
        description=args.description,
        annotation_types=types or None,
        classes=[c.model_dump(exclude_none=True) for c in args.classes],
    )
    return to_json(project)


class DeleteDatasetInput(ToolInput):
    name: str = Field(description="Dataset name (case-sensitive).")


@_tool(
    "delete_dataset",
    "Datasets",
    DeleteDatasetInput,
    role="admin",
    idempotent=True,
    destructive=True,
    description=(
        "Use when the user confirmed that a dataset must be deleted with all its images, "
        "annotations and exports. Irreversible: restate what will be removed and get "
        "explicit confirmation first."
    ),
)
def _delete_dataset(client: Client, args: DeleteDatasetInput) -> Any:
    return {"deleted": True, "name": args.name, **client.projects.delete(args.name)}


# ───────────── images ─────────────


class UploadImageInput(ToolInput):
    dataset_name: str = Field(description="Destination dataset.")
    file_path: str = Field(description="Path of the local image file.")
    folder_path: str = Field(
        default="/", description="Virtual folder in the dataset, e.g. '/cars'."
    )


@_tool(
    "upload_image",
    "Images",
    UploadImageInput,
    role="member",
    idempotent=False,
    description=(
        "Use when the user wants one local image added to a dataset. For a folder of "
        "images use upload_dataset_from_folder instead."
    ),
)
def _upload_image(client: Client, args: UploadImageInput) -> Any:
    dataset = client.datasets.get(args.dataset_name)
    return to_json(client.images.upload(dataset.id, args.file_path, folder_path=args.folder_path))


class ImageRef(ToolInput):
    image_uuid: str = Field(description="Image id (from get_dataset with include_images).")


@_tool(
    "delete_image",
    "Images",
    ImageRef,
    role="member",
    idempotent=True,
    destructive=True,
    description=(
        "Use when the user confirmed that an image must be removed from its dataset. The "
        "image is archived (an admin can restore it) and leaves every listing, export and "
        "training set. Get explicit confirmation first."
    ),
)
def _delete_image(client: Client, args: ImageRef) -> Any:
    client.images.delete(args.image_uuid)
    return {"deleted": True, "image_uuid": args.image_uuid}


# ───────────── annotations ─────────────


@_tool(
    "get_annotations",
    "Annotations",
    ImageRef,
    role="viewer",
    idempotent=True,
    description=(
        "Use when you need the annotations currently on an image (bbox, polygon, polyline, "
        "keypoint), e.g. before editing them with save_annotations."
    ),
)
def _get_annotations(client: Client, args: ImageRef) -> Any:
    return _listing("annotations", client.annotations.get(args.image_uuid))


class SaveAnnotationsInput(ToolInput):
    image_uuid: str = Field(description="Image id.")
    annotations: list[dict[str, Any]] = Field(
        description=(
            "The image's complete new annotation list, in the Pictograph format: each has "
            "'name' (the class label — never 'class'), 'type' ('bbox', 'polygon', 'polyline' or "
            "'keypoint') and that type's geometry: bounding_box {x, y, w, h}, polygon "
            "{paths: [[{x, y}, ...]]}, polyline {path: [{x, y}, ...]} or keypoint {x, y}."
        )
    )


@_tool(
    "save_annotations",
    "Annotations",
    SaveAnnotationsInput,
    role="member",
    idempotent=True,
    description=(
        "Use when annotations must be written to an image, e.g. to keep what an "
        "auto_annotate_* tool returned. Replaces the image's whole annotation list, so pass "
        "every annotation to keep. Class names must be classes of the dataset."
    ),
)
def _save_annotations(client: Client, args: SaveAnnotationsInput) -> Any:
    return to_json(client.annotations.save(args.image_uuid, args.annotations))


# ───────────── auto-annotate (one image) ─────────────

_DATASET = Field(description="Dataset name.")
_IMAGE_FILENAME = Field(
    description="Image filename in the dataset; '/folder/name.jpg' when several share the name."
)
_NOT_SAVED = "Returns the annotations without saving them: call save_annotations to keep them."


class AutoAnnotatePointInput(ToolInput):
    dataset_name: str = _DATASET
    image_filename: str = _IMAGE_FILENAME
    x: float = Field(description="X of a point on the object, in pixels.")
    y: float = Field(description="Y of a point on the object, in pixels.")
    name: str = Field(default="object", description="Class label of the annotation.")
    positive_points: list[tuple[float, float]] | None = Field(
        default=None, description="More points on the object, as [[x, y], ...]."
    )
    negative_points: list[tuple[float, float]] | None = Field(
        default=None, description="Points that are not the object, as [[x, y], ...]."
    )
    score_threshold: float = Field(
        default=0.75, ge=0.0, le=1.0, description="Masks scoring below this are dropped."
    )


@_tool(
    "auto_annotate_point",
    "Auto-annotate",
    AutoAnnotatePointInput,
    role="member",
    idempotent=False,
    cost=1,
    description=(
        "Use when the user points at an object (pixel coordinates) and wants it segmented. "
        "Extra positive points include more of it, negative points exclude areas. "
        + _NOT_SAVED
    ),
)
def _auto_annotate_point(client: Client, args: AutoAnnotatePointInput) -> Any:
    result = client.auto_annotate.point(
        args.dataset_name,
        args.image_filename,
        x=args.x,
        y=args.y,
        name=args.name,
        positive_points=args.positive_points,
        negative_points=args.negative_points,
        score_threshold=args.score_threshold,
    )
    return to_json(result)


class AutoAnnotateBoxInput(ToolInput):
    dataset_name: str = _DATASET
    image_filename: str = _IMAGE_FILENAME
    box: BoundingBox = Field(description="Box around the object: {x, y, w, h} in pixels.")
    name: str = Field(description="Class label of the annotation.")
    confidence_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Masks scoring below this are dropped."
    )
    return_polygon: bool = Field(
        default=True, description="Return the object's polygon as well as its refined box."
    )
    negative_boxes: list[BoundingBox] | None = Field(
        default=None, description="Areas to leave out of the object, as boxes."
    )


@_tool(
    "auto_annotate_box",
    "Auto-annotate",
    AutoAnnotateBoxInput,
    role="member",
    idempotent=False,
    cost=1,
    description=(
        "Use when the user draws or gives a box around an object and wants its exact outline "
        "(a refined box, and its polygon). " + _NOT_SAVED
    ),
)
def _auto_annotate_box(client: Client, args: AutoAnnotateBoxInput) -> Any:
    result = client.auto_annotate.box(
        args.dataset_name,
        args.image_filename,
        box=args.box.model_dump(),
        name=args.name,
        confidence_threshold=args.confidence_threshold,
        return_polygon=args.return_polygon,
        negative_boxes=None
        if args.negative_boxes is None
        else [b.model_dump() for b in args.negative_boxes],
    )
    return to_json(result)


class AutoAnnotateTextInput(ToolInput):
    dataset_name: str = _DATASET
    image_filename: str = _IMAGE_FILENAME
    text_prompt: str = Field(description="What to find, e.g. 'red cars' or 'damaged tiles'.")
    name: str | None = Field(
        default=None, description="Class label of the annotations; the prompt by default."
    )
    output_type: Literal["polygon", "bbox"] = Field(
        default="polygon", description="Annotation type returned."
    )
    confidence_threshold: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Detections scoring below this are dropped."
    )


@_tool(
    "auto_annotate_text",
    "Auto-annotate",
    AutoAnnotateTextInput,
    role="member",
    idempotent=False,
    cost=1,
    description=(
        "Use when the user wants every instance of a described thing found in one image "
        "('find all red cars'), or to retry an image a batch auto-annotation failed on. "
        + _NOT_SAVED
    ),
)
def _auto_annotate_text(client: Client, args: AutoAnnotateTextInput) -> Any:
    result = client.auto_annotate.text(
        args.dataset_name,
        args.image_filename,
        text_prompt=args.text_prompt,
        name=args.name,
        output_type=args.output_type,
        confidence_threshold=args.confidence_threshold,
    )
    return to_json(result)


# ───────────── search ─────────────

_SEARCH_LIMIT = Field(default=50, ge=1, le=500, description="Most images to return.")


class SearchByTagInput(ToolInput):
    dataset_name: str | None = Field(
        default=None, description="Dataset to search; the whole organization when omitted."
    )
    objects: list[str] | None = Field(
        default=None, description="Object tags, e.g. ['car', 'truck']."
    )
    scenes: list[str] | None = Field(
        default=None, description="Scene tags, e.g. ['outdoor', 'urban']."
    )
    attributes: list[str] | None = Field(
        default=None, description="Attribute tags, e.g. ['blurry', 'dark', 'bright']."
    )
    limit: int = _SEARCH_LIMIT


@_tool(
    "search_by_tag",
    "Search",
    SearchByTagInput,
    role="viewer",
    idempotent=True,
    description=(
        "Use when the user wants images by content — objects, scenes or attributes such as "
        "'blurry' — found by the automatic tags every upload gets. Give at least one tag; "
        "an image matches any tag within a category and every category given."
    ),
)
def _search_by_tag(client: Client, args: SearchByTagInput) -> Any:
    results = client.search.by_tag(
        objects=args.objects,
        scenes=args.scenes,
        attributes=args.attributes,
        dataset_name=args.dataset_name,
        limit=args.limit,
    )
    return _listing("images", results)


class SearchBySimilarityInput(ToolInput):
    image_id: str = Field(description="Id of the reference image.")
    threshold: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Minimum cosine similarity; 0.6 means 'visually related'.",
    )
    limit: int = _SEARCH_LIMIT
    folder_path: str | None = Field(
        default=None,
        description=(
            "Folder to search; by default the reference image's own folder, '/' for the "
            "whole dataset."
        ),
    )


@_tool(
    "search_by_similarity",
    "Search",
    SearchBySimilarityInput,
    role="viewer",
    idempotent=True,
    description=(
        "Use when the user wants images that look like a given image (near-duplicates, "
        "more of the same), most similar first."
    ),
)
def _search_by_similarity(client: Client, args: SearchBySimilarityInput) -> Any:
    results = client.search.by_similarity(
        args.image_id, threshold=args.threshold, limit=args.limit, folder_path=args.folder_path
    )
    return _listing("images", results)


# ───────────── exports ─────────────


class CreateExportInput(ToolInput):
    dataset_name: str = Field(description="Dataset to export.")
    name: str = Field(
        description="Export name, unique within the dataset; include the date to avoid clashes."
    )
    format: ExportFormat = Field(default="pictograph", description="Annotation format.")
    include_images: bool = Field(default=True, description="Put the image files in the ZIP.")
    class_filter: list[str] | None = Field(
        default=None, description="Keep only these classes' annotations; all when omitted."
    )
    status_filter: StatusFilter = Field(
        default="complete",
        description="Which images: 'complete' (finished ones), 'in_progress', 'new' or 'all'.",
    )


@_tool(
    "create_export",
    "Exports",
    CreateExportInput,
    role="member",
    idempotent=False,
    description=(
        "Use when the user wants a dataset's images and annotations as a ZIP in a given format "
        "(pictograph, coco, yolo, cvat, pascal_voc, labelme, csv). Waits until the export is "
        "built; fetch it with download_export."
    ),
)
def _create_export(client: Client, args: CreateExportInput) -> Any:
    export = client.exports.create(
        args.dataset_name,
        args.name,
        format=args.format,
        include_images=args.include_images,
        class_filter=args.class_filter,
        status_filter=args.status_filter,
    )
    return to_json(export)


class ListExportsInput(ToolInput):
    dataset_name: str | None = Field(
        default=None, description="Only this dataset's exports; all datasets when omitted."
    )
    limit: int = Field(default=50, ge=1, le=500, description="Most exports to return.")


@_tool(
    "list_exports",
    "Exports",
    ListExportsInput,
    role="viewer",
    idempotent=True,
    description="Use when you need the exports made so far, newest first, with their status.",
)
def _list_exports(client: Client, args: ListExportsInput) -> Any:
    exports = client.exports.list(limit=args.limit, dataset_name=args.dataset_name)
    return _listing("exports", exports)


class DownloadExportInput(ToolInput):
    dataset_name: str = Field(description="Dataset the export belongs to.")
    export_name: str = Field(description="Export name.")
    output_path: str = Field(description="Local path to write the ZIP to.")


@_tool(
    "download_export",
    "Exports",
    DownloadExportInput,
    role="viewer",
    idempotent=True,
    description=(
        "Use when the user wants a completed export's ZIP saved as a local file. Streams it, "
        "so large exports are fine."
    ),
)
def _download_export(client: Client, args: DownloadExportInput) -> Any:
    path = client.exports.download(args.dataset_name, args.export_name, args.output_path)
    return _saved(path)


def _saved(path: Path) -> dict[str, Any]:
    return {"output_path": str(path), "size_bytes": path.stat().st_size}


# ───────────── training ─────────────


class RunRef(ToolInput):
    run_id: str = Field(description="Training run id.")


@_tool(
    "get_training_status",
    "Training",
    RunRef,
    role="viewer",
    idempotent=True,
    description=(
        "Use when you need a training run's state: status, progress, current epoch, metrics "
        "and, once completed, its model_id."
    ),
)
def _get_training_status(client: Client, args: RunRef) -> Any:
    return to_json(client.training.get(args.run_id))


@_tool(
    "cancel_training",
    "Training",
    RunRef,
    role="member",
    idempotent=True,
    destructive=True,
    description=(
        "Use when the user confirmed that a queued or running training run must stop. The "
        "unused GPU minutes are refunded; the run cannot be resumed. Get confirmation first."
    ),
)
def _cancel_training(client: Client, args: RunRef) -> Any:
    return to_json(client.training.cancel(args.run_id))


# ───────────── models ─────────────


class ListModelsInput(ToolInput):
    dataset_name: str | None = Field(
        default=None, description="Only models trained on this dataset; all when omitted."
    )
    limit: int = Field(default=50, ge=1, le=500, description="Most models to return.")


@_tool(
    "list_models",
    "Models",
    ListModelsInput,
    role="viewer",
    idempotent=True,
    description=(
        "Use when you need the organization's trained models, newest first: architecture, "
        "status, classes and metrics."
    ),
)
def _list_models(client: Client, args: ListModelsInput) -> Any:
    return _listing("models", client.models.list(limit=args.limit, dataset_name=args.dataset_name))


class DownloadModelInput(ToolInput):
    model_id: str = Field(description="Model id.")
    output_path: str = Field(description="Local path to write the ONNX file to.")


@_tool(
    "download_model",
    "Models",
    DownloadModelInput,
    role="viewer",
    idempotent=True,
    description=(
        "Use when the user wants a trained model's ONNX weights saved as a local file. Only "
        "models with status 'ready' can be downloaded."
    ),
)
def _download_model(client: Client, args: DownloadModelInput) -> Any:
    return _saved(client.models.download(args.model_id, args.output_path))


# ───────────── credits ─────────────


class NoInput(ToolInput):
    pass


@_tool(
    "get_credit_balance",
    "Credits",
    NoInput,
    role="viewer",
    idempotent=True,
    description=(
        "Use when you need the organization's credits: what remains, the monthly allowance, "
        "when it resets and the last 20 ledger entries. Check it before paid tools."
    ),
)
def _get_credit_balance(client: Client, args: NoInput) -> Any:
    return to_json(client.credits.balance())


class EstimateCreditCostInput(ToolInput):
    operation: str = Field(
        description=(
            "Operation to price: 'training_a10g_per_minute', 'training_a100_per_minute', "
            "'training_h100_per_minute', 'sam3_auto_annotation' (per image), 'sam3_prompt', "
            "'sam3_session', 'image_inference'."
        )
    )
    quantity: int = Field(default=1, ge=1, description="Units: minutes, images or prompts.")


@_tool(
    "estimate_credit_cost",
    "Credits",
    EstimateCreditCostInput,
    role="viewer",
    idempotent=True,
    description=(
        "Use when a paid action (training, auto-annotation) is planned: returns its cost and "
        "whether the balance covers it ('sufficient'). Tell the user the cost and balance, "
        "and proceed only if sufficient."
    ),
)
def _estimate_credit_cost(client: Client, args: EstimateCreditCostInput) -> Any:
    return to_json(client.credits.estimate(args.operation, quantity=args.quantity))


# ───────────── connectors ─────────────


class ConnectorKey(ToolInput):
    provider: ConnectorProvider = Field(description="Where the datasets are: 'v7' or 'roboflow'.")
    api_key: str = Field(description="The user's API key for that provider.")


@_tool(
    "validate_connector",
    "Connectors",
    ConnectorKey,
    role="member",
    idempotent=True,
    description=(
        "Use when the user wants to bring datasets over from V7 or Roboflow: checks their "
        "API key there and lists the datasets it can import. Call before "
        "import_from_connector."
    ),
)
def _validate_connector(client: Client, args: ConnectorKey) -> Any:
    return to_json(client.connectors.validate(args.provider, args.api_key))


class RemoteDatasetChoice(ToolInput):
    id: str = Field(description="Remote dataset id, as validate_connector listed it.")
    name: str = Field(description="Remote dataset name.")
    slug: str = Field(description="Remote dataset slug.")
    image_count: int | None = Field(default=None, ge=0, description="As listed.")
    version: int | None = Field(default=None, description="Roboflow dataset version.")
    target_name: str | None = Field(
        default=None, description="Pictograph dataset to import into; the remote name by default."
    )


class ImportFromConnectorInput(ConnectorKey):
    datasets: list[RemoteDatasetChoice] = Field(
        min_length=1, description="Datasets to import, as validate_connector listed them."
    )


@_tool(
    "import_from_connector",
    "Connectors",
    ImportFromConnectorInput,
    role="member",
    idempotent=False,
    description=(
        "Use when the user picked V7 or Roboflow datasets to import (from validate_connector). "
        "Images and annotations land in Pictograph datasets of the same name (or target_name); "
        "waits until the import finishes and returns its per-dataset report."
    ),
)
def _import_from_connector(client: Client, args: ImportFromConnectorInput) -> Any:
    datasets = [d.model_dump(exclude_none=True) for d in args.datasets]
    return to_json(client.connectors.import_(args.provider, args.api_key, datasets))


REGISTRY: tuple[ToolSpec[Any], ...] = tuple(_TOOLS)
"""Every agent tool, in documentation order."""

_BY_NAME: dict[str, ToolSpec[Any]] = {spec.name: spec for spec in REGISTRY}


def get_tool(name: str) -> ToolSpec[Any]:
    """The tool called ``name``; KeyError when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"No agent tool named {name!r}") from None


def tools_payload() -> dict[str, Any]:
    """The registry as ``GET /api/v1/developer/tools.json`` serves it."""
    return {
        "tools": [spec.descriptor() for spec in REGISTRY],
        "version": __version__,
        "count": len(REGISTRY),
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema made self-contained: ``$ref``s inlined, titles dropped.

    Tool-use APIs take one schema per tool, so inlining spares every consumer a resolver; the
    titles only repeat property names in tokens the agent pays for.
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return _inline(schema, definitions)


_LITERAL_KEYS = frozenset({"default", "examples", "enum", "const"})
"""Keywords whose values are data, not schemas: copied as they are."""


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        return _inline({**target, **{k: v for k, v in node.items() if k != "$ref"}}, definitions)
    cleaned: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in _LITERAL_KEYS:
            cleaned[key] = value
        elif key == "properties":
            cleaned[key] = {name: _inline(schema, definitions) for name, schema in value.items()}
        else:
            cleaned[key] = _inline(value, definitions)
    return cleaned
