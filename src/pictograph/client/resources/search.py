"""``client.search``: images by visual similarity and by auto-tags."""

from __future__ import annotations

from pictograph.client.resources import Resource


class Search(Resource):
    pass
