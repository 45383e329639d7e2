"""API-key secrets and signed blob URLs.

Keys look like ``pk_live_<43 url-safe chars>``; the server keeps only a bcrypt hash and the
first 12 characters, which index the lookup. Signed URLs are HMAC-SHA256 over the method,
blob key, expiry and content type, so a forged or expired URL is refused without a lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path

import bcrypt

KEY_PREFIX = "pk_live_"
PREFIX_LENGTH = 12


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def is_well_formed(key: str) -> bool:
    return key.startswith(KEY_PREFIX) and len(key) >= 24 and key.isascii()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def hash_api_key(key: str, rounds: int) -> str:
    return bcrypt.hashpw(key.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_api_key(key: str, hashed: str) -> bool:
    return bcrypt.checkpw(key.encode(), hashed.encode())


def fingerprint(value: str | bytes) -> str:
    """SHA-256 hex digest: cache keys and request hashes, never stored secrets."""
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


def load_or_create_secret(path: Path) -> bytes:
    """The install's signing secret, created once under the data directory."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(secret)
    tmp.chmod(0o600)
    tmp.replace(path)
    return secret


class UrlSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _signature(self, method: str, key: str, expires: int, content_type: str) -> str:
        message = f"{method}\n{key}\n{expires}\n{content_type}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, method: str, key: str, ttl_seconds: int, content_type: str = "") -> dict[str, str]:
        """Query parameters that authorise ``method`` on ``key`` for ``ttl_seconds``."""
        expires = int(time.time()) + ttl_seconds
        params = {"expires": str(expires), "signature": self._signature(method, key, expires, content_type)}
        if content_type:
            params["content_type"] = content_type
        return params

    def verify(self, method: str, key: str, expires: str, signature: str, content_type: str = "") -> bool:
        try:
            expires_at = int(expires)
        except ValueError:
            return False
        if expires_at < time.time():
            return False
        expected = self._signature(method, key, expires_at, content_type)
        return hmac.compare_digest(expected, signature)
