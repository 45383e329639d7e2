"""Video: upload by signed URL, probe, extract frames into a dataset (a durable job)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
