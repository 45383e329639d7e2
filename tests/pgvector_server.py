"""A throwaway PostgreSQL 16 with pgvector (the ``pgserver`` package) for tests and benchmarks.

One server per process, started on first use in its own temporary directory (pytest-xdist
workers each get their own, so they never share a data directory or socket) and stopped and
deleted when the process exits. Every caller gets a fresh database on it.
"""

from __future__ import annotations

import functools
import tempfile
import uuid
import warnings
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url


@functools.cache
def _server_uri() -> str:
    """Start this process's server; pgserver stops it and deletes its directory at exit."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="pictograph-pgvector-"))
    return pgserver.get_server(pgdata, cleanup_mode="delete").get_uri()


def pgvector_database_url() -> str:
    """SQLAlchemy URL (psycopg, over the server's unix socket) of a new empty database."""
    import psycopg

    admin = _server_uri()
    name = f"pictograph_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture()
def pgvector_url() -> str:
    """A new database on this process's pgvector server."""
    return pgvector_database_url()
