"""The vector index behind ``by_similarity``: one interface, two backends.

- ``hnsw`` (:mod:`.hnsw_index`, the embedded default): a usearch HNSW index per (dataset,
  model), kept in memory and saved under ``<data_dir>/vectors/``. It is derived from the
  ``image_embeddings`` rows and brought back in step with them when it is missing or stale.
- ``pgvector`` (:mod:`.pgvector_index`): PostgreSQL's ``vector`` extension, an HNSW index per
  embedding dimension over an ``embedding`` column this backend adds to ``image_embeddings``.

Both answer the same :class:`SimilarityQuery` (dataset and optional folder scope, source image
excluded, archived images excluded, cosine threshold, limit) with image ids sorted by
descending similarity, so the search service does not know which one it talks to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session


def index_key(image_id: str) -> int:
    """The 63-bit integer label an HNSW index stores for an image (from its UUID's high bits)."""
    return int(image_id.replace("-", "")[:16], 16) & ((1 << 63) - 1)


@dataclass(frozen=True)
class StoredVector:
    """One embedding just written to ``image_embeddings`` (inside the caller's transaction)."""

    image_id: str
    key: int
    vector: npt.NDArray[np.float32]


@dataclass(frozen=True)
class SimilarityQuery:
    organization_id: str
    project_id: str
    model: str
    vector: npt.NDArray[np.float32]
    """The reference image's unit vector."""
    folder: str | None
    """Only images in this folder or below it; None: the whole dataset."""
    exclude_image_id: str | None
    threshold: float
    """Minimum cosine similarity."""
    limit: int


@dataclass(frozen=True)
class Match:
    image_id: str
    similarity: float


class VectorIndex(ABC):
    name: str

    def prepare(self, session: Session) -> None:
        """Once at start-up: create what the backend needs (extension, column, indexes)."""

    def flush(self) -> None:
        """At shutdown: persist what is only in memory (nothing, for a database backend)."""

    @abstractmethod
    def stored(
        self, session: Session, project_id: str, model: str, rows: list[StoredVector]
    ) -> None:
        """Called in the transaction that wrote ``rows`` to ``image_embeddings``."""

    @abstractmethod
    def search(self, session: Session, query: SimilarityQuery) -> list[Match]:
        """Matches in the query's scope, at least ``threshold`` similar, best first, at most
        ``limit``, without the excluded image or archived images."""


def folder_filter(folder: str | None) -> tuple[str, str] | None:
    """(exact folder, prefix of its sub-folders) for a folder scope; None for the whole dataset."""
    if folder is None or folder == "/":
        return None
    folder = folder.rstrip("/")
    return folder, folder + "/"
