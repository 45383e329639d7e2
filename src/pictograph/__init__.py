"""Pictograph: a self-hosted computer-vision data platform and its Python SDK.

from pictograph import Client
client = Client()          # PICTOGRAPH_API_KEY, or the config file `pictograph login` writes
"""

from pictograph._version import __version__
from pictograph.client import Client
from pictograph.models.annotation import (
    Annotation,
    BBoxAnnotation,
    KeypointAnnotation,
    PolygonAnnotation,
    PolygonGeometry,
    PolylineAnnotation,
    PolylineGeometry,
)
from pictograph.models.auto_annotate import BatchClass, BatchJob, PromptResult
from pictograph.models.common import BoundingBox, Point
from pictograph.models.project import ProjectClass

__all__ = [
    "Annotation",
    "BBoxAnnotation",
    "BatchClass",
    "BatchJob",
    "BoundingBox",
    "Client",
    "KeypointAnnotation",
    "Point",
    "PolygonAnnotation",
    "PolygonGeometry",
    "PolylineAnnotation",
    "PolylineGeometry",
    "ProjectClass",
    "PromptResult",
    "__version__",
]
