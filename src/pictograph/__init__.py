"""Pictograph: a self-hosted computer-vision data platform and its Python SDK."""

from pictograph._version import __version__

__all__ = ["__version__"]
