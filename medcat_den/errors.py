"""Every error medcat_den raises, in one module (caikit-style).

Catch :class:`DenError` for anything the den refuses; the subclasses say why.
Messages name the model, file, key or setting involved and never contain
credentials.
"""

from __future__ import annotations


class DenError(Exception):
    """Base class of every medcat_den error."""


class ConfigError(DenError, ValueError):
    """A setting (argument, environment variable, YAML key) is invalid."""


class InvalidNameError(DenError, ValueError):
    """A model name, alias, ref or content id does not match the strict pattern."""


class ModelNotFoundError(DenError, LookupError):
    """A ref names no model in the den."""


class AmbiguousRefError(DenError, LookupError):
    """A content-id prefix matches more than one model."""


class KeyNotFoundError(DenError, KeyError):
    """A backend key (blob, manifest, ref) does not exist."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "key not found"


class IntegrityError(DenError):
    """Stored bytes do not hash to what the manifest says; nothing was loaded."""


class UnsafeArchiveError(DenError, ValueError):
    """A pack archive or folder has entries that escape it, links, or is too large."""


class InvalidPackError(DenError, ValueError):
    """A path or object is not a MedCAT model pack."""


class ConcurrentUpdateError(DenError):
    """A compare-and-swap on a ref kept losing to other writers."""


class ModelInUseError(DenError):
    """Deleting a model that other models name as a parent (use force=True)."""


class PolicyError(DenError, PermissionError):
    """An action is forbidden by the den's policies; nothing was changed."""


class OfflineError(DenError):
    """Offline mode is on and the request needs the remote store."""


class BackendError(DenError):
    """The storage backend failed (network, permissions, server error)."""


class TrainingError(DenError):
    """A training job or its input data is invalid or failed."""


class TrainingCanceledError(TrainingError):
    """A training run was canceled (cooperatively, by request); nothing was pushed."""


class ServedModelNotFoundError(ModelNotFoundError, ValueError):
    """A den ref handed to caikit names no model (a ValueError too: caikit runtime answers 404)."""


class CommandGroupImportError(DenError, ImportError):
    """A ``medcat-den`` command group failed to import: a broken install or a bug (never hidden)."""
