"""The alignkit exception tree.

Every error alignkit raises on purpose derives from :class:`AlignkitError`; foreign
exceptions are translated at the boundary (``raise TargetError(...) from exc``)::

    AlignkitError
    ├── ConfigError            invalid configuration, option, URI or id
    │   └── UnknownIdError     a registry has no entry of that id
    ├── DataError              an item pack or input file is malformed
    ├── TargetError            a target cannot be reached or answered nonsense
    ├── MissingDependencyError an optional extra is not installed
    ├── StoreError             the store cannot be opened, read or written
    │   └── SchemaVersionError the store was written by a newer alignkit
    ├── RegistryError          a plugin tried to replace a registered id
    └── CheckError             a check failed for a reason other than its target

The CLI prints ``str(error)`` as one line on stderr and exits 2 for all of them.
"""

from __future__ import annotations

__all__ = [
    "AlignkitError",
    "CheckError",
    "ConfigError",
    "DataError",
    "MissingDependencyError",
    "RegistryError",
    "SchemaVersionError",
    "StoreError",
    "TargetError",
    "UnknownIdError",
]


class AlignkitError(Exception):
    """Root of every error alignkit raises deliberately."""


class ConfigError(AlignkitError):
    """Invalid configuration, command-line option, target URI or identifier."""


class UnknownIdError(ConfigError):
    """A registry lookup named an id that is not registered."""


class DataError(AlignkitError):
    """An item pack, log or other input file is malformed."""


class TargetError(AlignkitError):
    """A target could not be reached, loaded or understood."""


class MissingDependencyError(AlignkitError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, *, install: str | None = None) -> None:
        how = install or f"pip install 'alignkit[{extra}]'"
        super().__init__(f"{package} is not installed; install it with: {how}")
        self.package = package
        self.extra = extra


class StoreError(AlignkitError):
    """The store cannot be opened, read or written."""


class SchemaVersionError(StoreError):
    """The store's schema is newer than this alignkit understands."""


class RegistryError(AlignkitError):
    """A registration conflicts with an id that is already registered."""


class CheckError(AlignkitError):
    """A check failed for a reason that is not its target's behaviour."""
