"""Worker processes that end with the process that started them.

A pool's workers wait on a pipe for their next task; when their parent is killed (``kill -9``
of a follower, or of a lab run) nobody closes that pipe and they would wait forever, orphans
holding memory. :func:`exit_with_parent`, given as a pool's ``initializer`` with the parent's pid
as its argument (read in the parent: a worker that starts after its parent died must not take
its new parent for the old), starts a daemon thread in the worker that notices the parent is
gone (the worker is re-parented, so its parent pid changes) and ends the worker.
"""

from __future__ import annotations

import os
import threading
from typing import Final

#: How often a worker looks for its parent, in seconds: the longest an orphan outlives it.
POLL_SECONDS: Final = 0.5


def _watch(parent: int) -> None:
    event = threading.Event()
    while not event.wait(POLL_SECONDS):
        if os.getppid() != parent:
            os._exit(0)


def exit_with_parent(parent: int) -> None:
    """Pool initializer (``initargs=(os.getpid(),)``): end this worker once ``parent``, the
    process that started it, is gone."""
    threading.Thread(target=_watch, args=(parent,), name="exit-with-parent", daemon=True).start()
