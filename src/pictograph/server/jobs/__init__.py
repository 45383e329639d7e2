"""Durable jobs: records in the database, handlers by kind, and the worker pool that runs them."""

from pictograph.server.jobs.context import JobCancelled, JobContext
from pictograph.server.jobs.records import enqueue, get_job, job_json, request_cancel
from pictograph.server.jobs.runner import HANDLERS, JobRunner, handler

__all__ = [
    "HANDLERS",
    "JobCancelled",
    "JobContext",
    "JobRunner",
    "enqueue",
    "get_job",
    "handler",
    "job_json",
    "request_cancel",
]
