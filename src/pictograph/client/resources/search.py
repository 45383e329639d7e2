"""``client.search``: images by visual similarity and by auto-tags.

Every uploaded image is embedded and auto-tagged in the background; ``status()`` says how far
that has got, and ``by_similarity`` on an image not indexed yet raises ConflictError.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pictograph.client.resources import Resource
from pictograph.models.search import IndexStatus, SimilarImage, TaggedImage, TagTaxonomy

_PATH = "/api/v1/developer/search"


class Search(Resource):
    def by_similarity(
        self,
        image_id: str,
        *,
        threshold: float = 0.6,
        limit: int = 50,
        folder_path: str | None = None,
    ) -> list[SimilarImage]:
        """Images that look like ``image_id``, most similar first, the image itself excluded.

        Scope: the image's dataset and folder (with its sub-folders) unless ``folder_path``
        overrides it (``"/"`` = the whole dataset). ``threshold`` is the cosine-similarity floor
        (0–1); ``limit`` is capped at 500. Raises NotFoundError (image), ValidationError
        (threshold / limit), ConflictError (the image is not indexed yet — retry shortly).
        """
        params: dict[str, Any] = {"image_id": image_id, "threshold": threshold, "limit": limit}
        if folder_path is not None:
            params["folder_path"] = folder_path
        response = self._transport.request("GET", f"{_PATH}/similar", params=params)
        return self._parse_list(SimilarImage, response.get("results"))

    def by_tag(
        self,
        *,
        objects: Sequence[str] | None = None,
        scenes: Sequence[str] | None = None,
        attributes: Sequence[str] | None = None,
        dataset_name: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[TaggedImage]:
        """Images whose auto-tags match: any tag within a category, every category given.

        At least one tag is required (ValidationError otherwise, as for a tag outside the
        taxonomy); ``dataset_name=None`` searches the whole organization (NotFoundError for
        an unknown dataset). ``limit`` is capped at 500.
        """
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        for name, tags in (("objects", objects), ("scenes", scenes), ("attributes", attributes)):
            if tags:
                params[name] = [tags] if isinstance(tags, str) else list(tags)
        if dataset_name is not None:
            params["dataset_name"] = dataset_name
        response = self._transport.request("GET", f"{_PATH}/by-tags", params=params)
        return self._parse_list(TaggedImage, response.get("results"))

    def status(self, dataset_name: str | None = None) -> IndexStatus:
        """How many images are embedded and tagged (organization-wide, or one dataset)."""
        params = {"dataset_name": dataset_name} if dataset_name is not None else None
        response = self._transport.request("GET", f"{_PATH}/status", params=params)
        return self._parse(IndexStatus, response)

    def taxonomy(self) -> TagTaxonomy:
        """The labels each tag category can take."""
        return self._parse(TagTaxonomy, self._transport.request("GET", f"{_PATH}/taxonomy"))
