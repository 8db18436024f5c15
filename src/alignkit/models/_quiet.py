"""Library calls that train or save Hugging Face models print nothing of their own."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["quiet_hf"]


@contextmanager
def quiet_hf() -> Iterator[None]:
    """Silence the progress bars and warnings of transformers (and datasets, if installed).

    Library calls print nothing (the CLI shows its own progress; DESIGN §10); the
    settings are restored afterwards.
    """
    hf_logging: Any = importlib.import_module("transformers").utils.logging
    try:
        ds_utils: Any = importlib.import_module("datasets").utils
    except ImportError:
        ds_utils = None
    bars = hf_logging.is_progress_bar_enabled()
    ds_bars = ds_utils is not None and ds_utils.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if ds_utils is not None:
        ds_utils.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
        if ds_bars:
            ds_utils.enable_progress_bars()
