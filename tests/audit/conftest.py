from __future__ import annotations

from collections.abc import Iterator

import pytest
from audit_helpers import ThreadedStub


@pytest.fixture
def stub() -> Iterator[ThreadedStub]:
    with ThreadedStub(latency=0.02) as s:
        yield s
