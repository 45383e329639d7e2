"""The outcome of a bulk move / copy / delete / update on a dataset's images."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

DuplicateHandling = Literal["rename", "skip", "overwrite"]


class BatchFailure(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    image_id: str = Field(validation_alias=AliasChoices("image_id", "id"))
    reason: str

    @property
    def id(self) -> str:
        return self.image_id


class BatchResult(BaseModel):
    """Per-image outcome: partial failure is reported here, never raised."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    succeeded: list[str] = Field(default_factory=list)
    failures: list[BatchFailure] = Field(
        default_factory=list, validation_alias=AliasChoices("failures", "failed")
    )
    failed_count: int = 0
    processed: int = 0
    affected_folders: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _fill_counts(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            failures = data.get("failures", data.get("failed")) or []
            data.setdefault("failed_count", len(failures))
            data.setdefault("processed", len(data.get("succeeded") or []))
        return data

    @property
    def success(self) -> bool:
        return self.failed_count == 0
