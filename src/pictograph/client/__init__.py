"""The Pictograph SDK client."""

from pictograph.client._client import Client
from pictograph.client._pager import OffsetPager

__all__ = ["Client", "OffsetPager"]
