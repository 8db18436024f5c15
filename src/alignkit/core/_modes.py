"""Declared failure modes: each must be a taxonomy id (checks and rails declare them)."""

from __future__ import annotations

from collections.abc import Iterable

from alignkit.core._errors import ConfigError

__all__ = ["known_failure_modes"]


def known_failure_modes(
    owner: str, modes: Iterable[str], *, required: bool = True
) -> tuple[str, ...]:
    """``modes`` as a tuple, each a registered taxonomy id.

    Args:
        owner: Who declares them, for the message (``"check 'x.y'"``, ``"rail 'z'"``).
        modes: The declared ids.
        required: Whether at least one must be given.

    Raises:
        ConfigError: None given (when required) or an unknown id.
    """
    from alignkit import taxonomy  # the taxonomy's data sits above core; read at call time

    out = tuple(modes)
    if required and not out:
        raise ConfigError(f"{owner} names no failure mode")
    for mode in out:
        try:
            taxonomy.get(mode)
        except KeyError:
            raise ConfigError(
                f"{owner}: unknown failure mode '{mode}' (a plugin registers its own with"
                " alignkit.taxonomy.register first)"
            ) from None
    return out
