"""The failure-mode taxonomy (DESIGN §2) as data, with NIST AI RMF subcategories."""

from alignkit.taxonomy._model import (
    NIST_FUNCTIONS,
    FailureMode,
    FailureModeTaken,
    all_modes,
    get,
    ids,
    nist_function,
    register,
    withdraw,
)

__all__ = [
    "NIST_FUNCTIONS",
    "FailureMode",
    "FailureModeTaken",
    "all_modes",
    "get",
    "ids",
    "nist_function",
    "register",
    "withdraw",
]
