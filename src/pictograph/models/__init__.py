"""Wire types shared by the SDK and the server: the annotation format and the response models."""

from pictograph.models.annotation import (
    Annotation,
    AnnotationType,
    BBoxAnnotation,
    KeypointAnnotation,
    PolygonAnnotation,
    PolygonGeometry,
    PolylineAnnotation,
    PolylineGeometry,
)
from pictograph.models.api_key import ApiKey, ApiKeyRole, CreatedApiKey
from pictograph.models.batch import BatchFailure, BatchResult, DuplicateHandling
from pictograph.models.common import BoundingBox, Point
from pictograph.models.credit import CreditBalance, CreditEstimate, CreditLedgerEntry
from pictograph.models.dataset import Dataset, DatasetClass, DatasetImage
from pictograph.models.image import Image
from pictograph.models.organization import (
    InviteStatus,
    Organization,
    OrganizationInvite,
    OrganizationMember,
    OrganizationRole,
)
from pictograph.models.project import Project, ProjectClass

__all__ = [
    "Annotation",
    "AnnotationType",
    "ApiKey",
    "ApiKeyRole",
    "BBoxAnnotation",
    "BatchFailure",
    "BatchResult",
    "BoundingBox",
    "CreatedApiKey",
    "CreditBalance",
    "CreditEstimate",
    "CreditLedgerEntry",
    "Dataset",
    "DatasetClass",
    "DatasetImage",
    "DuplicateHandling",
    "Image",
    "InviteStatus",
    "KeypointAnnotation",
    "Organization",
    "OrganizationInvite",
    "OrganizationMember",
    "OrganizationRole",
    "Point",
    "PolygonAnnotation",
    "PolygonGeometry",
    "PolylineAnnotation",
    "PolylineGeometry",
    "Project",
    "ProjectClass",
]
