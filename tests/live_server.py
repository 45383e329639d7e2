"""Start the real server (uvicorn, in a subprocess) on a loopback port for integration tests.

Each backend gets its own data directory and database: a fresh SQLite file, or a fresh
PostgreSQL database created on the server named by PICTOGRAPH_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

OWNER_KEY = "pk_live_test_owner_key_0123456789abcdef"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_admin_url() -> str:
    return os.environ.get("PICTOGRAPH_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


def postgres_available() -> bool:
    try:
        import psycopg

        url = postgres_admin_url().replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=3):
            return True
    except Exception:
        return False


def create_postgres_database() -> tuple[str, str]:
    """A new empty database; returns (SQLAlchemy URL, name)."""
    import psycopg

    name = f"pictograph_test_{uuid.uuid4().hex[:10]}"
    admin = postgres_admin_url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin_url().rsplit("/", 1)[0]
    return f"{base}/{name}", name


def drop_postgres_database(name: str) -> None:
    import psycopg

    admin = postgres_admin_url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class LiveServer:
    base_url: str
    api_key: str
    data_dir: Path
    database_url: str
    backend: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(data_dir: Path, database_url: str | None, backend: str, **env_overrides: str) -> LiveServer:
    port = free_port()
    env = {
        **os.environ,
        "PICTOGRAPH_HOST": "127.0.0.1",
        "PICTOGRAPH_PORT": str(port),
        "PICTOGRAPH_DATA_DIR": str(data_dir),
        "PICTOGRAPH_BOOTSTRAP_API_KEY": OWNER_KEY,
        "PICTOGRAPH_WRITE_CLIENT_CONFIG": "false",
        "PICTOGRAPH_BCRYPT_ROUNDS": "4",
        "PICTOGRAPH_WEBHOOK_MAX_ATTEMPTS": "3",
        "PICTOGRAPH_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
        "PICTOGRAPH_WEBHOOK_TIMEOUT_SECONDS": "2",
        "PICTOGRAPH_TRAINING_THREADS": "1",
        **env_overrides,
    }
    for name in ("PICTOGRAPH_API_KEY", "PICTOGRAPH_BASE_URL"):
        env.pop(name, None)
    if database_url:
        env["PICTOGRAPH_DATABASE_URL"] = database_url
    else:
        env.pop("PICTOGRAPH_DATABASE_URL", None)
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "pictograph.server.run"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, log_path)
    except RuntimeError:
        process.kill()
        raise
    return LiveServer(base_url, OWNER_KEY, data_dir, database_url or "", backend, process)


def wait_for_health(
    base_url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60
) -> None:
    """Return once ``/health`` answers 200; RuntimeError, with the log's tail, if the server
    exits first or does not answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited {process.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no /health within {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")


@contextmanager
def running_server(backend: str, data_dir: Path, **env_overrides: str) -> Iterator[LiveServer]:
    """A fresh install on ``backend`` (a new PostgreSQL database, or SQLite under ``data_dir``),
    stopped, and its database dropped, on exit."""
    db_name = None
    database_url = None
    if backend == "postgresql":
        database_url, db_name = create_postgres_database()
    server = start_server(data_dir, database_url, backend, **env_overrides)
    try:
        yield server
    finally:
        server.stop()
        if db_name:
            drop_postgres_database(db_name)
