"""Where Client() finds its API key and server: argument > environment > config file > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from pictograph import Client
from pictograph.config_file import write_config
from pictograph.exceptions import AuthError, ConfigurationError, NetworkError
from tests.live_server import LiveServer, free_port

BAD_KEY = "pk_live_this_key_does_not_exist_000"


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No key or URL in the environment; the config file points at a path we control."""
    monkeypatch.delenv("PICTOGRAPH_API_KEY", raising=False)
    monkeypatch.delenv("PICTOGRAPH_BASE_URL", raising=False)
    config = tmp_path / "config.toml"
    monkeypatch.setenv("PICTOGRAPH_CONFIG_FILE", str(config))
    return config


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_no_key_anywhere_is_a_configuration_error(clean_env: Path) -> None:
    with pytest.raises(ConfigurationError):
        Client()
    clean_env.write_text('[default]\nbase_url = "http://127.0.0.1:9"\n')
    with pytest.raises(ConfigurationError):
        Client()


def test_blank_values_count_as_missing(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTOGRAPH_API_KEY", "   ")
    with pytest.raises(ConfigurationError):
        Client(api_key="")


def test_invalid_settings_are_configuration_errors(clean_env: Path) -> None:
    with pytest.raises(ConfigurationError):
        Client(api_key=BAD_KEY, base_url="ftp://example.org")
    with pytest.raises(ConfigurationError):
        Client(api_key=BAD_KEY, timeout=0)
    with pytest.raises(ConfigurationError):
        Client(api_key=BAD_KEY, max_retries=-1)


def test_default_base_url_is_the_local_server(clean_env: Path) -> None:
    with Client(api_key=BAD_KEY) as client:
        assert client.base_url == "http://127.0.0.1:8080"
    assert "pk_live" not in repr(client)


def test_config_file_supplies_key_and_url(clean_env: Path, live_server: LiveServer) -> None:
    write_config(api_key=live_server.api_key, base_url=live_server.base_url, path=clean_env)
    with Client() as client:
        assert client.base_url == live_server.base_url
        assert client.organizations.me().id


def test_environment_beats_config_file(
    clean_env: Path, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(api_key=live_server.api_key, base_url=dead_url(), path=clean_env)
    monkeypatch.setenv("PICTOGRAPH_BASE_URL", live_server.base_url)
    with Client() as client:
        assert client.base_url == live_server.base_url
        client.datasets.list(limit=1)
    monkeypatch.setenv("PICTOGRAPH_API_KEY", BAD_KEY)
    with Client() as client, pytest.raises(AuthError):
        client.datasets.list(limit=1)


def test_arguments_beat_environment_and_file(
    clean_env: Path, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(api_key=BAD_KEY, base_url=dead_url(), path=clean_env)
    monkeypatch.setenv("PICTOGRAPH_API_KEY", BAD_KEY)
    monkeypatch.setenv("PICTOGRAPH_BASE_URL", dead_url())
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as client:
        assert client.datasets.list(limit=1) is not None


def test_unreachable_server_is_a_network_error(clean_env: Path) -> None:
    with (
        Client(api_key=BAD_KEY, base_url=dead_url(), max_retries=0) as client,
        pytest.raises(NetworkError),
    ):
        client.datasets.list()


def test_wrong_key_is_an_auth_error(clean_env: Path, live_server: LiveServer) -> None:
    with (
        Client(api_key=BAD_KEY, base_url=live_server.base_url) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.datasets.list()
    assert caught.value.status_code == 401
    assert caught.value.error_code
