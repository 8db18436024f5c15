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
from alignkit.evals._hallucination import FABRICATION, hallucination
from alignkit.evals._sycophancy import CHALLENGE_FLIP, FEEDBACK_SHIFT, SUGGESTED_ANSWER, sycophancy

__all__ = [
    "ARITHMETIC_ACCURACY",
    "BRIER",
    "CHALLENGE_FLIP",
    "DISAGREEMENT",
    "ECE",
    "FABRICATION",
    "FACT_ACCURACY",
    "FEEDBACK_SHIFT",
    "LOGPROB_ECE",
    "SUGGESTED_ANSWER",
    "calibration",
    "calibration_logprobs",
    "capability_arithmetic",
    "capability_facts",
    "consistency",
    "hallucination",
    "sycophancy",
]
