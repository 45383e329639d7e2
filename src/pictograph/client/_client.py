"""``Client``: resolves the key and server, owns the transport, exposes one attribute per resource."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pictograph.client._transport import Transport
from pictograph.client.resources.annotations import Annotations
from pictograph.client.resources.api_keys import ApiKeys
from pictograph.client.resources.auto_annotate import AutoAnnotate
from pictograph.client.resources.batch import Batch
from pictograph.client.resources.connectors import Connectors
from pictograph.client.resources.credits import Credits
from pictograph.client.resources.datasets import Datasets
from pictograph.client.resources.exports import Exports
from pictograph.client.resources.images import Images
from pictograph.client.resources.imports import Imports
from pictograph.client.resources.models import Models
from pictograph.client.resources.organizations import Organizations
from pictograph.client.resources.projects import Projects
from pictograph.client.resources.search import Search
from pictograph.client.resources.training import Training
from pictograph.client.resources.video import Video
from pictograph.client.resources.webhooks import Webhooks
from pictograph.config_file import FileConfig, load_config
from pictograph.exceptions import ConfigurationError

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
API_KEY_ENV = "PICTOGRAPH_API_KEY"
BASE_URL_ENV = "PICTOGRAPH_BASE_URL"


class Client:
    """A connection to one Pictograph server.

    ``api_key`` comes from the argument, else ``PICTOGRAPH_API_KEY``, else ``api_key`` in
    the config file's ``[default]`` section (``~/.pictograph/config.toml`` or
    ``$PICTOGRAPH_CONFIG_FILE``); ConfigurationError when none has one. ``base_url``
    resolves the same way, falling back to the local server at ``http://127.0.0.1:8080``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
    ) -> None:
        file_config: FileConfig | None = None

        def from_file() -> FileConfig:
            nonlocal file_config
            if file_config is None:
                file_config = load_config()
            return file_config

        key = _first_set(api_key, os.environ.get(API_KEY_ENV)) or _first_set(from_file().api_key)
        if not key:
            raise ConfigurationError(
                f"No Pictograph API key: pass Client(api_key=...), set {API_KEY_ENV}, "
                "or run `pictograph login` to write the config file"
            )
        url = _first_set(base_url, os.environ.get(BASE_URL_ENV)) or _first_set(from_file().base_url)
        url = url or DEFAULT_BASE_URL
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"base_url must start with http:// or https://, got {url!r}")
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be positive, got {timeout}")
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must not be negative, got {max_retries}")

        self._transport = Transport(
            api_key=key, base_url=url, timeout=timeout, max_retries=max_retries
        )
        self.base_url = self._transport.base_url
        self.datasets = Datasets(self._transport)
        self.projects = Projects(self._transport)
        self.images = Images(self._transport)
        self.annotations = Annotations(self._transport)
        self.auto_annotate = AutoAnnotate(self._transport)
        self.batch = Batch(self._transport)
        self.organizations = Organizations(self._transport)
        self.api_keys = ApiKeys(self._transport)
        self.credits = Credits(self._transport)
        self.connectors = Connectors(self._transport)
        self.imports = Imports(self._transport)
        self.exports = Exports(self._transport)
        self.webhooks = Webhooks(self._transport)
        self.training = Training(self._transport)
        self.models = Models(self._transport)
        self.search = Search(self._transport)
        self.video = Video(self._transport)

    def close(self) -> None:
        """Release the connection pools; the client is unusable afterwards."""
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"


def _first_set(*values: str | None) -> str | None:
    for value in values:
        if value and value.strip():
            return value.strip()
    return None
