"""Everything a running server holds: settings, database, blob store, signer, auth.

Built once by ``create_app`` and reached from routes through ``request.app.state.ctx``;
no module keeps global state of its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pictograph.server.auth import Authenticator
from pictograph.server.db.engine import Database
from pictograph.server.security import UrlSigner
from pictograph.server.settings import Settings
from pictograph.server.storage import LocalBlobStore

if TYPE_CHECKING:
    from pictograph.server.jobs.runner import JobRunner
    from pictograph.server.search.vectors import VectorIndex
    from pictograph.vision.engine import VisionEngine


@dataclass
class ServerContext:
    settings: Settings
    db: Database
    blobs: LocalBlobStore
    signer: UrlSigner
    authenticator: Authenticator
    jobs: JobRunner | None = None
    """The embedded worker pool, when this process runs one."""
    training_jobs: JobRunner | None = None
    """The worker that trains this server's own runs (queue ``training``)."""
    index_jobs: JobRunner | None = None
    """The worker that embeds and tags new images (queue ``index``)."""
    _vision: VisionEngine | None = None
    _vision_lock: threading.Lock = field(default_factory=threading.Lock)
    _vectors: VectorIndex | None = None
    _vectors_lock: threading.Lock = field(default_factory=threading.Lock)

    def vector_index(self) -> VectorIndex:
        """The similarity-search index (HNSW files or pgvector); ``build_context`` makes and
        prepares it at start-up, outside any transaction."""
        with self._vectors_lock:
            if self._vectors is None:
                from pictograph.server.search.backends import make_index

                index = make_index(self.settings, self.db)
                with self.db.session() as session:
                    index.prepare(session)
                self._vectors = index
            return self._vectors

    def vision(self) -> VisionEngine:
        """The process's model engine, made on first use (so a server that never annotates
        never imports torch)."""
        with self._vision_lock:
            if self._vision is None:
                from pictograph.vision.engine import VisionEngine

                self._vision = VisionEngine(
                    self.settings.resolved_models_dir,
                    device=self.settings.device,
                    cache_bytes=self.settings.embedding_cache_mb * 1024 * 1024,
                )
            return self._vision

    def blob_url(self, method: str, key: str, content_type: str = "") -> str:
        """An absolute signed URL for one blob operation, valid for the configured TTL."""
        from urllib.parse import quote, urlencode

        params = self.signer.sign(method, key, self.settings.signed_url_ttl_seconds, content_type)
        return f"{self.settings.base_url}/blobs/{quote(key)}?{urlencode(params)}"
