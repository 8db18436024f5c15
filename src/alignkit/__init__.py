"""alignkit: reproduce, detect, mitigate and guard against AI alignment failures.

The command line is ``alignkit``; the Python API lives in the subpackages, e.g.
``alignkit.audit.run(...)``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("alignkit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
