from __future__ import annotations

import pytest
from cli_helpers import run_cli


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    return run_cli
