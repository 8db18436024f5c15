"""The ``alignkit`` command: parses arguments, calls the library, prints."""

from alignkit.cli._app import app, main

__all__ = ["app", "main"]
