"""Shared fixtures: the live server on each database backend, clients bound to it.

``live_server`` is parametrised over SQLite and PostgreSQL, so every integration test runs
on both. PostgreSQL is required when CI=true; elsewhere its runs are skipped if none answers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("tests.server.helpers")

from tests.live_server import LiveServer, postgres_available, running_server


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    backend = request.param
    if backend == "postgresql" and not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL on PICTOGRAPH_TEST_POSTGRES_URL")
        pytest.skip("no PostgreSQL reachable")
    with running_server(backend, tmp_path_factory.mktemp(f"server-{backend}")) as server:
        yield server


@pytest.fixture()
def client(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator["object"]:
    """Our SDK's Client, authenticated as the owner of the live server's organization."""
    from pictograph import Client

    monkeypatch.setenv("PICTOGRAPH_CONFIG_FILE", str(tmp_path / "no-config.toml"))
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as sdk:
        yield sdk


@pytest.fixture()
def unique_name() -> str:
    """A dataset name no other test uses, since tests share one server per backend."""
    return f"ds-{uuid.uuid4().hex[:10]}"
