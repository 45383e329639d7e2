"""``OffsetPager``: walks a ``limit`` / ``offset`` list endpoint one page at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

PageFetcher = Callable[[int, int], list[T]]
"""``(offset, limit) -> items`` for one page, already parsed into models."""


class OffsetPager(Generic[T]):
    """Lazily iterates every item of a paged list, fetching the next page only when needed.

    Iteration stops at an empty or short page, or after ``max_total`` items. Each
    ``iter()`` over the pager starts again from offset 0.
    """

    def __init__(
        self, fetch_page: PageFetcher[T], *, page_size: int = 100, max_total: int | None = None
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if max_total is not None and max_total < 0:
            raise ValueError(f"max_total must not be negative, got {max_total}")
        self._fetch_page = fetch_page
        self.page_size = page_size
        self.max_total = max_total

    def __iter__(self) -> Iterator[T]:
        offset = 0
        while self.max_total is None or offset < self.max_total:
            limit = (
                self.page_size
                if self.max_total is None
                else min(self.page_size, self.max_total - offset)
            )
            page = self._fetch_page(offset, limit)
            yield from page[:limit]
            offset += min(len(page), limit)
            if len(page) < limit:
                return

    def all(self) -> list[T]:
        return list(self)

    def first(self) -> T | None:
        return next(iter(self), None)
