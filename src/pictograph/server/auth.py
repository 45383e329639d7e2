"""API-key authentication with a short-lived cache.

bcrypt (cost 12) takes about a quarter of a second, so verified keys are cached in memory
for one second: a revoked key stops working within that second, as the docs promise, and a
busy client pays the hash once a second instead of once a request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from pictograph.server import security
from pictograph.server.db.engine import Database
from pictograph.server.db.tables import ApiKey, Organization, as_utc
from pictograph.server.errors import Unauthorized

CACHE_TTL_SECONDS = 1.0
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key, its organization and its role."""

    api_key_id: str
    organization_id: str
    role: str
    key_rate_limit: int
    tier: str


class Authenticator:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self._last_used: dict[str, datetime] = {}

    def authenticate(self, raw_key: str | None) -> Principal:
        if not raw_key:
            raise Unauthorized("Missing API key: send it in the X-API-Key header")
        raw_key = raw_key.strip()
        if not security.is_well_formed(raw_key):
            raise Unauthorized("Malformed API key: keys start with 'pk_live_'")
        digest = security.fingerprint(raw_key)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached and now - cached[0] < CACHE_TTL_SECONDS:
            return cached[1]
        principal = self._lookup(raw_key)
        with self._lock:
            self._cache[digest] = (now, principal)
        return principal

    def forget(self) -> None:
        """Drop every cached verification (after a key is revoked or changed in this process)."""
        with self._lock:
            self._cache.clear()

    def _lookup(self, raw_key: str) -> Principal:
        now = datetime.now(timezone.utc)
        with self._db.session() as session:
            rows = session.execute(
                select(ApiKey, Organization.subscription_tier)
                .join(Organization, Organization.id == ApiKey.organization_id)
                .where(ApiKey.key_prefix == security.key_prefix(raw_key))
            ).all()
            for key, tier in rows:
                if not security.verify_api_key(raw_key, key.key_hash):
                    continue
                if not key.is_active:
                    raise Unauthorized("This API key has been deactivated")
                if key.expires_at is not None and as_utc(key.expires_at) <= now:
                    raise Unauthorized("This API key has expired")
                self._touch(session, key.id, now)
                return Principal(key.id, key.organization_id, key.role, key.rate_limit, tier)
        raise Unauthorized("Invalid API key")

    def _touch(self, session, key_id: str, now: datetime) -> None:  # type: ignore[no-untyped-def]
        last = self._last_used.get(key_id)
        if last is None or now - last >= LAST_USED_RESOLUTION:
            self._last_used[key_id] = now
            session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
