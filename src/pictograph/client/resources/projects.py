"""``client.projects``: create, reconfigure and delete datasets (the write side of ``datasets``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pictograph.client._pager import OffsetPager
from pictograph.client.resources import Resource, path_segment
from pictograph.exceptions import ValidationError
from pictograph.models.project import Project, ProjectClass

_PATH = "/api/v1/developer/projects/"


class Projects(Resource):
    def list(self, *, limit: int = 50, offset: int = 0) -> list[Project]:
        body = self._transport.request("GET", _PATH, params={"limit": limit, "offset": offset})
        return self._parse_list(Project, body.get("projects"))

    def iter(self, *, page_size: int = 50, max_total: int | None = None) -> OffsetPager[Project]:
        return OffsetPager(
            lambda offset, limit: self.list(limit=limit, offset=offset),
            page_size=page_size,
            max_total=max_total,
        )

    def get(self, name: str) -> Project:
        body = self._transport.request("GET", f"{_PATH}{path_segment(name)}")
        return self._parse(Project, body["project"])

    def create(
        self,
        name: str,
        *,
        description: str | None = None,
        annotation_types: Sequence[str] | None = None,
        classes: Sequence[ProjectClass | Mapping[str, Any]] = (),
        idempotency_key: str | None = None,
    ) -> Project:
        """Create a dataset; ``annotation_types`` defaults to ``["bbox"]``."""
        body: dict[str, Any] = {
            "name": name,
            "annotation_types": list(annotation_types)
            if annotation_types is not None
            else ["bbox"],
            "classes": _class_payload(classes),
        }
        if description is not None:
            body["description"] = description
        response = self._transport.request(
            "POST", _PATH, json=body, idempotency_key=idempotency_key
        )
        return self._parse(Project, response["project"])

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        annotation_types: Sequence[str] | None = None,
        classes: Sequence[ProjectClass | Mapping[str, Any]] | None = None,
        idempotency_key: str | None = None,
    ) -> Project:
        """Change only the fields given. ``classes`` replaces the whole list, and removing a
        class also removes every annotation that uses it."""
        body: dict[str, Any] = {}
        if new_name is not None:
            body["name"] = new_name
        if description is not None:
            body["description"] = description
        if annotation_types is not None:
            body["annotation_types"] = list(annotation_types)
        if classes is not None:
            body["classes"] = _class_payload(classes)
        if not body:
            raise ValidationError(
                "projects.update needs at least one of new_name, description, annotation_types, classes",
                errors=[{"loc": ["body"], "msg": "no field to update", "type": "value_error"}],
            )
        response = self._transport.request(
            "PATCH", f"{_PATH}{path_segment(name)}", json=body, idempotency_key=idempotency_key
        )
        return self._parse(Project, response["project"])

    def delete(self, name: str) -> dict[str, Any]:
        """Delete the dataset with its images and exports; returns counts such as
        ``images_deleted`` and ``annotations_deleted``."""
        response = self._transport.request("DELETE", f"{_PATH}{path_segment(name)}") or {}
        deleted = response.get("deleted", response)
        return dict(deleted) if isinstance(deleted, Mapping) else {}


def _class_payload(classes: Sequence[ProjectClass | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Typed classes are dumped; dicts go as given so keys the server knows and we do not survive."""
    return [
        item.model_dump(exclude_none=True) if isinstance(item, ProjectClass) else dict(item)
        for item in classes
    ]
