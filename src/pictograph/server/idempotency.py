"""Idempotency-Key storage: the first response to a key is kept for 24 hours and replayed.

A retry with the same key and the same request gets the stored response; the same key with
a different request is a 409 ``idempotency_conflict``; a key whose first request is still
running is a 409 too, so two concurrent retries never both execute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from pictograph.server.db.engine import Database
from pictograph.server.db.tables import IdempotencyRecord, as_utc
from pictograph.server.errors import Conflict


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes
    content_type: str | None


class IdempotencyStore:
    def __init__(self, db: Database, ttl_seconds: int) -> None:
        self._db = db
        self._ttl = timedelta(seconds=ttl_seconds)

    def begin(self, organization_id: str, key: str, request_hash: str) -> StoredResponse | None:
        """Claim ``key``; return the stored response when it was already answered."""
        now = datetime.now(timezone.utc)
        with self._db.session() as session:
            record = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.organization_id == organization_id,
                    IdempotencyRecord.key == key,
                )
            )
            if record is not None and as_utc(record.created_at) < now - self._ttl:
                session.delete(record)
                session.flush()
                record = None
            if record is not None:
                if record.request_hash != request_hash:
                    raise Conflict(
                        "Idempotency-Key was already used with a different request",
                        error_code="idempotency_conflict",
                    )
                if record.status_code is None:
                    raise Conflict(
                        "A request with this Idempotency-Key is still in progress",
                        error_code="idempotency_in_progress",
                    )
                return StoredResponse(record.status_code, record.response_body or b"", record.content_type)
        try:
            with self._db.session() as session:
                session.add(
                    IdempotencyRecord(organization_id=organization_id, key=key, request_hash=request_hash)
                )
        except IntegrityError:
            # Another request claimed the key between our read and our insert.
            return self.begin(organization_id, key, request_hash)
        return None

    def finish(self, organization_id: str, key: str, response: StoredResponse | None) -> None:
        """Store the response, or release the key (None) so that a retry runs again."""
        with self._db.session() as session:
            where = (IdempotencyRecord.organization_id == organization_id, IdempotencyRecord.key == key)
            if response is None:
                session.execute(delete(IdempotencyRecord).where(*where))
                return
            record = session.scalar(select(IdempotencyRecord).where(*where))
            if record is not None:
                record.status_code = response.status_code
                record.response_body = response.body
                record.content_type = response.content_type

    def purge_expired(self) -> int:
        cutoff = datetime.now(timezone.utc) - self._ttl
        with self._db.session() as session:
            result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
            return result.rowcount or 0
