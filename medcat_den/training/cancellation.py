"""Cooperative cancellation checked by the Trainer every step.

A token is set in-process (:meth:`CancellationToken.cancel`) or from another process by
creating its ``request_file`` (what ``medcat-den jobs cancel`` does). Config: none.
"""

from __future__ import annotations

import os
import threading
import time


class CancellationToken:
    """A thread-safe flag, optionally mirrored by a file other processes can create."""

    def __init__(self, request_file: str | os.PathLike[str] | None = None,
                 poll_interval_s: float = 0.2) -> None:
        self._event = threading.Event()
        self._file = os.fspath(request_file) if request_file is not None else None
        self._poll_interval_s = poll_interval_s
        self._last_poll = 0.0

    @property
    def request_file(self) -> str | None:
        return self._file

    def cancel(self) -> None:
        """Request cancellation (idempotent)."""
        self._event.set()

    @property
    def canceled(self) -> bool:
        """True once cancellation was requested here or through the request file."""
        if self._event.is_set():
            return True
        if self._file is not None:
            now = time.monotonic()
            # a stat per step is cheap, but steps can be sub-millisecond on toy models
            if now - self._last_poll >= self._poll_interval_s:
                self._last_poll = now
                if os.path.exists(self._file):
                    self._event.set()
                    return True
        return False

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds or until canceled in-process; return ``canceled``."""
        self._event.wait(timeout)
        return self.canceled
