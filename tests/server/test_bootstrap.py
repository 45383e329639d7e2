"""First start: database, blobs, organization, owner key, client config file; restarts are no-ops."""

from __future__ import annotations

import sqlite3
import tomllib

import httpx

from tests.live_server import start_server


def test_first_start_creates_org_and_key_and_writes_client_config(tmp_path):
    config = tmp_path / "config.toml"
    data = tmp_path / "data"
    data.mkdir()
    server = start_server(
        data, None, "sqlite",
        PICTOGRAPH_WRITE_CLIENT_CONFIG="true",
        PICTOGRAPH_CONFIG_FILE=str(config),
        PICTOGRAPH_BOOTSTRAP_API_KEY="",
    )
    try:
        written = tomllib.loads(config.read_text())["default"]
        key = written["api_key"]
        assert key.startswith("pk_live_") and written["base_url"] == server.base_url
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        log = (data / "server.log").read_text()
        assert log.count(key) == 1, "the key is shown exactly once"
        me = httpx.get(f"{server.base_url}/api/v1/developer/organizations/me", headers={"X-API-Key": key})
        assert me.status_code == 200
        assert (data / "pictograph.db").exists() and (data / "blobs").is_dir()
    finally:
        server.stop()

    with sqlite3.connect(data / "pictograph.db") as db:
        hashes = db.execute("select key_prefix, key_hash from api_keys").fetchall()
        orgs = db.execute("select count(*) from organizations").fetchone()[0]
    assert orgs == 1
    assert hashes == [(key[:12], hashes[0][1])] and hashes[0][1].startswith("$2") and key not in hashes[0][1]

    # A second start on the same data directory keeps the organization and does not rewrite the key.
    config.write_text('[default]\napi_key = "kept"\n')
    again = start_server(data, None, "sqlite", PICTOGRAPH_WRITE_CLIENT_CONFIG="true",
                         PICTOGRAPH_CONFIG_FILE=str(config), PICTOGRAPH_BOOTSTRAP_API_KEY="")
    try:
        me = httpx.get(f"{again.base_url}/api/v1/developer/organizations/me", headers={"X-API-Key": key})
        assert me.status_code == 200
    finally:
        again.stop()
    assert 'api_key = "kept"' in config.read_text()
    with sqlite3.connect(data / "pictograph.db") as db:
        assert db.execute("select count(*) from organizations").fetchone()[0] == 1


def test_bootstrap_key_from_environment(live_server):
    response = httpx.get(
        f"{live_server.base_url}/api/v1/developer/organizations/me",
        headers={"X-API-Key": live_server.api_key},
    )
    assert response.status_code == 200
    assert response.json()["organization"]["subscription_tier"] == "enterprise"
