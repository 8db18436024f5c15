"""Worker processes that do not outlive the process that started them."""

from __future__ import annotations

import os
import threading
import time

__all__ = ["exit_when_orphaned"]


def exit_when_orphaned(parent: int, every_s: float = 1.0) -> None:
    """In a worker process: exit as soon as ``parent`` (a pid) is no longer its parent.

    A pool's workers block reading a queue whose write end they hold too, so a parent
    killed outright (SIGKILL) left them running forever, children of init. ``parent`` is
    the pid the parent passed along, so a parent killed while the worker was still
    starting is noticed too. Watches from a daemon thread; returns at once.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(0)

    threading.Thread(target=watch, name="alignkit-parent-watch", daemon=True).start()
