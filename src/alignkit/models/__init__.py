"""Model adapters: ``openai:``, ``hf:`` and ``python:`` targets, batching, the scheme registry.

``connect(uri)`` opens a :class:`~alignkit.core.ChatModel`; ``generate_batch`` sends
many requests with bounded concurrency and returns completions in order.
"""

from alignkit.models import _hf, _openai, _python  # noqa: F401  (register schemes)
from alignkit.models._activations import (
    POSITIONS,
    ActivationModel,
    Activations,
    Positions,
    Reduce,
    SteeringVector,
    load_steering,
    save_steering,
    steering,
    steering_options,
)
from alignkit.models._batch import OnResult, generate_batch
from alignkit.models._bounded import BUDGET_EXHAUSTED, BoundedModel
from alignkit.models._decode import BatchStats
from alignkit.models._hf import HFChatModel
from alignkit.models._hf_load import HFSidecar, SidecarDecoding, load_sidecar
from alignkit.models._openai import OpenAIChatModel
from alignkit.models._python import PythonChatModel
from alignkit.models._quiet import quiet_hf
from alignkit.models._smollm2 import smollm2_uri
from alignkit.models._uri import (
    SCHEMES,
    ParsedURI,
    SchemeFactory,
    SpendMeter,
    TargetOptions,
    connect,
    open_target,
    parse_uri,
    public_uri,
    public_url,
    register_scheme,
    uri_secrets,
    with_query,
)

__all__ = [
    "BatchStats",
    "BUDGET_EXHAUSTED",
    "POSITIONS",
    "SCHEMES",
    "ActivationModel",
    "Activations",
    "BoundedModel",
    "Positions",
    "Reduce",
    "SteeringVector",
    "HFChatModel",
    "HFSidecar",
    "SidecarDecoding",
    "OnResult",
    "OpenAIChatModel",
    "ParsedURI",
    "PythonChatModel",
    "SchemeFactory",
    "SpendMeter",
    "TargetOptions",
    "connect",
    "generate_batch",
    "load_sidecar",
    "load_steering",
    "open_target",
    "parse_uri",
    "public_uri",
    "public_url",
    "quiet_hf",
    "register_scheme",
    "save_steering",
    "smollm2_uri",
    "steering",
    "steering_options",
    "uri_secrets",
    "with_query",
]
