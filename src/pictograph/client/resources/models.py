"""``client.models``: the models training runs produced — read, download the ONNX, archive."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from pathlib import Path

from pictograph.client._pager import OffsetPager
from pictograph.client.resources import Resource, path_segment
from pictograph.models.model import Model, ModelStatus, ModelType

_PATH = "/api/v1/developer/models/"


class Models(Resource):
    def list(
        self,
        *,
        dataset_name: str | None = None,
        status: ModelStatus | None = None,
        model_type: ModelType | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Model]:
        """One page of models, newest first; archived ones only with ``status="archived"``."""
        body = self._transport.request(
            "GET",
            _PATH,
            params={
                "limit": limit,
                "offset": offset,
                "dataset_name": dataset_name,
                "status": status,
                "model_type": model_type,
            },
        )
        return self._parse_list(Model, body.get("models"))

    def iter(
        self,
        *,
        dataset_name: str | None = None,
        status: ModelStatus | None = None,
        model_type: ModelType | None = None,
        page_size: int = 50,
        max_total: int | None = None,
    ) -> OffsetPager[Model]:
        return OffsetPager(
            lambda offset, limit: self.list(
                dataset_name=dataset_name,
                status=status,
                model_type=model_type,
                limit=limit,
                offset=offset,
            ),
            page_size=page_size,
            max_total=max_total,
        )

    def get(self, model_id: str) -> Model:
        body = self._transport.request("GET", _PATH + path_segment(model_id))
        return self._parse(Model, body["model"])

    def download(
        self,
        model_id: str,
        output_path: str | Path,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Path:
        """Stream the ONNX file to ``output_path`` (via ``.part``, renamed once complete and
        its MD5 matches the server's). ConflictError (409) unless the model is ``ready``."""
        body = self._transport.request("GET", _PATH + path_segment(model_id) + "/download")
        destination = Path(output_path).expanduser()
        self._transport.download(
            body["download_url"], destination, signed=True, md5=body.get("md5"), progress=progress
        )
        return destination

    def delete(self, model_id: str) -> Model:
        """Archive the model (admin role and above); its weights are kept."""
        body = self._transport.request("DELETE", _PATH + path_segment(model_id))
        return self._parse(Model, body["model"])
