"""Behavioural and capability checks for chat targets.

Importing this package registers its checks in :data:`alignkit.core.CHECKS`:

- ``capability.facts`` → ``capability.fact_accuracy``
- ``capability.arithmetic`` → ``capability.arithmetic_accuracy``
"""

from alignkit.evals._capability import (
    ARITHMETIC_ACCURACY,
    FACT_ACCURACY,
    capability_arithmetic,
    capability_facts,
)

__all__ = [
    "ARITHMETIC_ACCURACY",
    "FACT_ACCURACY",
    "capability_arithmetic",
    "capability_facts",
]
