"""``python -m alignkit``."""

from alignkit.cli import main

main()
