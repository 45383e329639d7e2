"""Job handlers for imports: ``import`` (a ZIP upload or a server folder) and
``connector_import`` (V7 Darwin / Roboflow). Both resume after a restart: extraction is
remembered by a marker in the job's working folder, and every image is a job item written once.
"""

from __future__ import annotations

from typing import Any

from pictograph.server.jobs.context import JobContext
from pictograph.server.jobs.runner import handler
from pictograph.server.services import connectors as connector_service
from pictograph.server.services import imports as import_service


@handler(import_service.KIND)
def run_import(job: JobContext) -> dict[str, Any]:
    return import_service.run_file_job(job)


@handler(connector_service.KIND)
def run_connector_import(job: JobContext) -> dict[str, Any]:
    return connector_service.run_job(job)
