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


class UnsafeBackendError(BackendError):
    """A storage endpoint ignores the conditional writes the den needs (see single-writer mode)."""


# --- medcat-den 0.6.0 compatibility (issue 15): the exception types 0.6.0 code catches. ---
# Each is also one of ours (so ``except DenError`` still sees it) and a ValueError, as in 0.6.0.


class DuplicateModelException(DenError, ValueError):
    """0.6.0: a model with this id is already in the (destination) den."""


class NoSuchBackendException(ConfigError):
    """0.6.0: ``backend_name`` / ``origin`` / ``destination`` names no backend of the den."""


class NoSuchModel(ModelNotFoundError, ValueError):
    """0.6.0: the model is not in the named backend."""

    def __init__(self, model_info: object, backend_name: str, extra: str = "") -> None:
        model_id = getattr(model_info, "model_id", model_info)
        super().__init__(f"Could not find model {model_id} in backend '{backend_name}'. {extra}")
        self.model_info = model_info
        self.backend_name = backend_name


class UnsupportedAPIException(DenError, ValueError):
    """0.6.0: this den (or backend) does not offer the API called."""


class CannotWrapModel(DenError, ValueError):
    """0.6.0: ``CATWrapper.load_model_pack`` needs a model info and a den config."""


class CannotSaveOnDiskException(DenError, ValueError):
    """0.6.0: a ``CATWrapper`` refuses ``save_model_pack`` without ``force_save_local=True``."""


class CannotSendToRemoteException(PolicyError, ValueError):
    """0.6.0: pushing a locally fine-tuned model to a remote den is not allowed."""


class NotAllowedToFineTuneLocallyException(PolicyError, ValueError):
    """0.6.0: fine-tuning a remote den's model locally is not allowed."""


class BaseModelDeletionError(PolicyError, ValueError):
    """0.6.0 ``delete_model`` of a base model without ``allow_delete_base_models=True``."""


class InvalidSaveTargetError(DenError, TypeError):
    """``save_model_pack`` under den injection got a target folder that is not a path string."""


class CommandGroupImportError(DenError, ImportError):
    """A ``medcat-den`` command group failed to import: a broken install or a bug (never hidden)."""
