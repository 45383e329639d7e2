"""Idempotency-Key storage: the first response to a key is kept for 24 hours and replayed.

A retry with the same key and the same request gets the stored response; the same key with
a different request is a 409 ``idempotency_conflict``; a key whose first request is still
running is a 409 too, so two concurrent retries never both execute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from pictograph.server.db.engine import Database
from pictograph.server.db.tables import IdempotencyRecord, as_utc, new_id
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
        """Claim ``key``; return the stored response when it was already answered.

        The common case (a fresh key) is one INSERT … ON CONFLICT DO NOTHING; only a key
        seen before costs a read.
        """
        table = IdempotencyRecord.__table__
        now = datetime.now(timezone.utc)
        where = (table.c.organization_id == organization_id, table.c.key == key)
        with self._db.engine.begin() as conn:
            claimed = conn.execute(
                _insert_ignoring_conflict(conn.dialect.name, table)
                .values(
                    id=new_id(), organization_id=organization_id, key=key,
                    request_hash=request_hash, created_at=now,
                )
                .returning(table.c.id)
            ).first()
            if claimed is not None:
                return None
            record = conn.execute(select(table).where(*where)).one()
            if as_utc(record.created_at) < now - self._ttl:
                # Expired: the key starts afresh for this request.
                conn.execute(
                    update(table).where(*where).values(
                        request_hash=request_hash, created_at=now, status_code=None,
                        response_body=None, content_type=None,
                    )
                )
                return None
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

    def finish(self, organization_id: str, key: str, response: StoredResponse | None) -> None:
        """Store the response, or release the key (None) so that a retry runs again."""
        table = IdempotencyRecord.__table__
        where = (table.c.organization_id == organization_id, table.c.key == key)
        with self._db.engine.begin() as conn:
            if response is None:
                conn.execute(delete(table).where(*where))
            else:
                conn.execute(
                    update(table).where(*where).values(
                        status_code=response.status_code,
                        response_body=response.body,
                        content_type=response.content_type,
                    )
                )

    def purge_expired(self) -> int:
        cutoff = datetime.now(timezone.utc) - self._ttl
        with self._db.session() as session:
            result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
            return result.rowcount or 0


def _insert_ignoring_conflict(dialect: str, table: Table) -> Insert:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=["organization_id", "key"])
