"""alignkit: reproduce, detect, mitigate and guard against AI alignment failures.

The command line is ``alignkit``; the Python API lives in the subpackages, e.g.
``alignkit.audit.run(...)``.
"""

import logging
from importlib.metadata import PackageNotFoundError, version

# Library calls are silent unless the application configures logging (DESIGN §10);
# the command line does, so its warnings are shown.
logging.getLogger("alignkit").addHandler(logging.NullHandler())

try:
    __version__ = version("alignkit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
