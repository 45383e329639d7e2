"""``client.video``: upload a video, probe it, extract its frames into a dataset."""

from __future__ import annotations

from pictograph.client.resources import Resource


class Video(Resource):
    pass
