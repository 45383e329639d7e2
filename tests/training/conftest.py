"""Pipeline tests run torch on one thread.

On a busy 2-core machine (and under ``pytest -n 2``) two OpenMP threads per process made small
models' training steps about ten times slower than one thread (measured with YOLOX-nano).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
