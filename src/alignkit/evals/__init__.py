"""Behavioural and capability checks for chat targets.

Every check registers itself with :func:`alignkit.core.check` on import and runs
against any chat target (``openai:``, ``hf:``, ``python:``, ``organism:``) through the
audit. Behavioural framings live in one module (``_framings``), written independently of
any model organism's training text.
"""

from alignkit.evals._calibration import BRIER, ECE, LOGPROB_ECE, calibration, calibration_logprobs
from alignkit.evals._capability import (
    ARITHMETIC_ACCURACY,
    FACT_ACCURACY,
    capability_arithmetic,
    capability_facts,
)
from alignkit.evals._consistency import DISAGREEMENT, consistency
from alignkit.evals._eval_awareness import EVAL_AWARENESS_GAP, FRAMED_COMPLIANCE, eval_awareness
from alignkit.evals._hallucination import FABRICATION, hallucination
from alignkit.evals._refusal import SAFE_REFUSAL, UNSAFE_COMPLIANCE, over_refusal
from alignkit.evals._sycophancy import CHALLENGE_FLIP, FEEDBACK_SHIFT, SUGGESTED_ANSWER, sycophancy

__all__ = [
    "ARITHMETIC_ACCURACY",
    "BRIER",
    "CHALLENGE_FLIP",
    "DISAGREEMENT",
    "ECE",
    "EVAL_AWARENESS_GAP",
    "FABRICATION",
    "FACT_ACCURACY",
    "FEEDBACK_SHIFT",
    "FRAMED_COMPLIANCE",
    "LOGPROB_ECE",
    "SAFE_REFUSAL",
    "SUGGESTED_ANSWER",
    "UNSAFE_COMPLIANCE",
    "calibration",
    "calibration_logprobs",
    "capability_arithmetic",
    "capability_facts",
    "consistency",
    "eval_awareness",
    "hallucination",
    "over_refusal",
    "sycophancy",
]
