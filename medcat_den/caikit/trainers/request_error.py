"""A bad training request, raised so that both Python callers and caikit runtime
understand it: it is a :class:`~medcat_den.errors.ConfigError` (or
:class:`~medcat_den.errors.InvalidNameError`) for ``except`` clauses, and a caikit
``CaikitCoreException`` with ``INVALID_ARGUMENT``, which caikit runtime's training
route answers with HTTP 400 instead of 500 (see adrs/0602-training-request-errors.md).
It only re-types errors from ``medcat_den.errors``; it defines no new failure.
"""

from __future__ import annotations

from caikit.core.exceptions.caikit_core_exception import (
    CaikitCoreException,
    CaikitCoreStatusCode,
)

from medcat_den.errors import ConfigError


class InvalidTrainingRequestError(ConfigError, CaikitCoreException):  # type: ignore[misc]
    """A ConfigError that caikit runtime answers with HTTP 400."""

    def __init__(self, message: str) -> None:
        ConfigError.__init__(self, message)
        CaikitCoreException.__init__(self, CaikitCoreStatusCode.INVALID_ARGUMENT, message)

    def __str__(self) -> str:
        return str(self.message)
