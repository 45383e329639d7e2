"""Search: images by visual similarity and by auto-tags."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
