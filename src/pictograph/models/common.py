"""Geometry primitives of the Pictograph annotation format, shared by SDK and server."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NonBlankStr = Annotated[str, AfterValidator(_non_blank)]
"""A string with at least one non-space character: an empty label or id is always a bug."""


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    x: float
    y: float


class BoundingBox(BaseModel):
    """Axis-aligned rectangle in image pixels: top-left corner plus strictly positive size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: float
    y: float
    w: float = Field(gt=0)
    h: float = Field(gt=0)
