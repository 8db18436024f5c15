"""Reading a request body as JSON the way both of the server's APIs need."""

from __future__ import annotations

import json
from typing import Any

from alignkit.core import has_lone_surrogate

__all__ = ["BodyError", "body_json"]


class BodyError(ValueError):
    """The body is not a JSON document this server takes; the message says why."""


def _no_constant(name: str) -> Any:
    raise BodyError(f"request body is not valid JSON ({name} is not a JSON value)")


def body_json(body: bytes) -> Any:
    """``body`` parsed as strict JSON: ``NaN`` and ``Infinity`` are refused.

    Raises:
        BodyError: Not JSON, not UTF-8, a non-finite number, nested too deeply, or a
            lone surrogate escape (text no encoder can write).
    """
    try:
        doc = json.loads(body, parse_constant=_no_constant)
    except BodyError:
        raise
    except RecursionError:  # 100,000 '[' once crashed the server
        raise BodyError("request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise BodyError("request body is not valid JSON") from None
    if b"\\u" in body and has_lone_surrogate(doc):  # only an escape can make one
        # a tool name of "edit_file\ud800" was a 500: the store cannot write it
        raise BodyError("request body holds a lone surrogate (\\ud800 without its pair)")
    return doc
