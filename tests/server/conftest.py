"""Fixtures for the HTTP tests of the server, on top of ``live_server`` (tests/conftest.py).

``owner`` speaks to the whole API (paths like ``/api/v1/api-keys/``); modules that only use
the developer API override it with a ``developer_http`` client, whose paths start below
``/api/v1/developer``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.live_server import LiveServer
from tests.server.helpers import ME, ROLES, http, new_key


@pytest.fixture(scope="module")
def owner(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client with the live server's bootstrap owner key."""
    with http(live_server, live_server.api_key) as client:
        yield client


@pytest.fixture(scope="module")
def org_id(owner: httpx.Client) -> str:
    """The id of the live server's organization."""
    return owner.get(ME).json()["organization"]["id"]


@pytest.fixture(scope="module")
def clients(
    live_server: LiveServer, owner: httpx.Client, org_id: str
) -> Iterator[dict[str, httpx.Client]]:
    """A client for a fresh key of every role, by role name."""
    made = {role: http(live_server, new_key(owner, org_id, role)["api_key"]) for role in ROLES}
    yield made
    for client in made.values():
        client.close()
