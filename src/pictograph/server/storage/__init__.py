"""Blob stores. The local directory is the embedded default."""

from pictograph.server.storage.local import LocalBlobStore

__all__ = ["LocalBlobStore"]
