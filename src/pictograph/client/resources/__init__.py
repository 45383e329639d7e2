"""One module per ``client.<resource>``, each a thin layer of calls through the transport.

This package's own module holds only :class:`Resource`, the base every resource shares.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from pictograph.client._transport import Transport
from pictograph.exceptions import ServerError

ModelT = TypeVar("ModelT", bound=BaseModel)


class Resource:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @staticmethod
    def _parse(model: type[ModelT], data: Any) -> ModelT:
        """A response body as ``model``; a body of the wrong shape is the server's fault."""
        try:
            return model.model_validate(data)
        except PydanticValidationError as error:
            raise ServerError(
                f"The server's response is not a valid {model.__name__}: {error}", response=data
            ) from error

    @classmethod
    def _parse_list(cls, model: type[ModelT], items: Iterable[Any] | None) -> list[ModelT]:
        return [cls._parse(model, item) for item in items or []]


def path_segment(value: str) -> str:
    """A name or id made safe to splice into a URL path."""
    return quote(value, safe="")


def check_polling(poll_interval: float, timeout: float) -> None:
    """Refuse polling settings that would spin (``0``) or never wait (negative)."""
    if poll_interval <= 0:
        raise ValueError(f"poll_interval must be positive, got {poll_interval}")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
