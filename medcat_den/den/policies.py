"""``RemotePolicy``: what a remote den allows (pushing fine-tuned models, fine-tuning locally).

Config keys (environment variable in brackets; default false):
    allow_push_finetuned (``MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED``): may a model
        with parents (a fine-tuned derivative) be pushed to a remote den?
    allow_local_fine_tune (``MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE``): may a model
        fetched from a remote den be trained on this machine?

One function decides each question, and every path goes through it:

* pushes: ``Den.push_model`` calls :meth:`RemotePolicy.check_push` before writing anything;
* training: :func:`check_fine_tune` is called by every MedCAT training entry point of a
  CAT fetched from a remote den (``Den.fetch_model`` -> :meth:`RemotePolicy.on_fetched`
  guards ``Trainer.train_unsupervised`` / ``train_supervised_raw`` /
  ``add_and_train_concept`` / ``unlink_concept_name`` / any other ``train*`` method, and
  each pipeline component's ``train`` / ``train_unsupervised`` / ``train_supervised_batch``
  and, for medcat_den's trainable embedding linker, ``fit`` / ``as_trainable``),
  by the caikit trainer and by the CLI before they start.

A refusal raises PolicyError before anything is changed. Local dens have no such
restrictions.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medcat_den.den import provenance
from medcat_den.errors import PolicyError

ENV_PUSH_FINETUNED = "MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED"
ENV_LOCAL_FINE_TUNE = "MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE"

_TRAINER_METHODS = ("train_unsupervised", "train_supervised_raw", "add_and_train_concept",
                    "unlink_concept_name")
_COMPONENT_METHODS = ("train", "train_unsupervised", "train_supervised_batch",
                      "fit", "as_trainable")  # the last two: medcat_den's trainable linker
_GUARD_MARK = "__medcat_den_guarded__"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _is_remote(den: Any) -> bool:
    backend = getattr(den, "backend", None)
    return backend is not None and not getattr(backend, "is_local", False)


@dataclass(frozen=True)
class _Origin:
    policy: RemotePolicy
    den_label: str
    model_id: str


_PATCH_LOCK = threading.Lock()


def _remember(obj: Any, origin: _Origin) -> None:
    provenance.add_guard(obj, origin.policy, origin.den_label, origin.model_id)


def _origin_of(obj: Any) -> _Origin | None:
    found = provenance.lookup(obj)
    if found is None or not isinstance(found.guard, RemotePolicy):
        return None
    return _Origin(found.guard, found.den_label, found.model_id)


class RemotePolicy:
    """Push and fine-tune rules of a remote den (see the module docstring)."""

    def __init__(self, allow_push_finetuned: bool | None = None,
                 allow_local_fine_tune: bool | None = None) -> None:
        # None: read the environment at each check, not once when the den was built
        self._push_finetuned = allow_push_finetuned
        self._local_fine_tune = allow_local_fine_tune

    @property
    def allow_push_finetuned(self) -> bool:
        if self._push_finetuned is None:
            return _env_flag(ENV_PUSH_FINETUNED)
        return self._push_finetuned

    @allow_push_finetuned.setter
    def allow_push_finetuned(self, value: bool | None) -> None:
        self._push_finetuned = value

    @property
    def allow_local_fine_tune(self) -> bool:
        if self._local_fine_tune is None:
            return _env_flag(ENV_LOCAL_FINE_TUNE)
        return self._local_fine_tune

    @allow_local_fine_tune.setter
    def allow_local_fine_tune(self, value: bool | None) -> None:
        self._local_fine_tune = value

    def __repr__(self) -> str:
        return (f"RemotePolicy(allow_push_finetuned={self.allow_push_finetuned}, "
                f"allow_local_fine_tune={self.allow_local_fine_tune})")

    def check_push(self, den: Any, manifest: Any) -> None:
        """Refuse pushing a model with parents to a remote den unless allowed."""
        parents = list(getattr(manifest, "parents", []) or [])
        if _is_remote(den) and parents and not self.allow_push_finetuned:
            raise PolicyError(
                f"refusing to push a fine-tuned model (parents: "
                f"{', '.join(p[:12] for p in parents)}) to the remote den {den!r}: set "
                f"{ENV_PUSH_FINETUNED}=true to allow it; nothing was pushed")

    def check_fine_tune(self, den_label: str, model_id: str) -> None:
        """Refuse training a model that came from a remote den unless allowed."""
        if not self.allow_local_fine_tune:
            raise PolicyError(
                f"refusing to fine-tune model {model_id[:12]} fetched from the remote den "
                f"{den_label}: set {ENV_LOCAL_FINE_TUNE}=true to allow local fine-tuning; "
                "the model was not changed")

    def on_fetched(self, den: Any, cat: Any, model_id: str) -> None:
        """Guard every training entry point of a CAT loaded from a remote den."""
        if _is_remote(den):
            guard_cat(cat, _Origin(self, repr(den), model_id))


def policy_for(backend: Any) -> RemotePolicy | None:
    """The policy a den over ``backend`` enforces: remote dens get the env-configured one."""
    return None if getattr(backend, "is_local", False) else RemotePolicy()


def check_fine_tune(den: Any = None, model_id: str | None = None, cat: Any = None) -> None:
    """The one check before fine-tuning: a den + model id (caikit trainer, CLI) or a CAT.

    Raises PolicyError if the model comes from a remote den whose policy forbids
    local fine-tuning.
    """
    if cat is not None:
        for obj in (cat, getattr(cat, "cdb", None)):
            origin = _origin_of(obj)
            if origin is not None:
                origin.policy.check_fine_tune(origin.den_label, origin.model_id)
                return
    if den is not None and _is_remote(den):
        policy = getattr(den, "policy", None)
        if not isinstance(policy, RemotePolicy):
            policy = RemotePolicy()
        policy.check_fine_tune(repr(den), model_id or "?")


def guard_cat(cat: Any, origin: _Origin) -> None:
    """Make every training entry point of ``cat`` call :func:`check_fine_tune` first."""
    from medcat.trainer import Trainer

    _remember(cat, origin)
    cdb = getattr(cat, "cdb", None)
    if cdb is not None:
        _remember(cdb, origin)
    trainer_methods = {m for m in dir(Trainer) if m.startswith("train") and not m.startswith("_")}
    _patch_class(Trainer, sorted(trainer_methods | set(_TRAINER_METHODS)))
    pipe = getattr(cat, "_pipeline", None)
    if pipe is not None:
        for comp in pipe.iter_all_components():
            _remember(comp, origin)
            _patch_class(type(comp), _COMPONENT_METHODS)


def _guard_for(obj: Any) -> _Origin | None:
    return _origin_of(obj) or _origin_of(getattr(obj, "cdb", None))


def _patch_class(cls: type, names: tuple[str, ...] | list[str]) -> None:
    with _PATCH_LOCK:
        for name in names:
            original = cls.__dict__.get(name)
            if original is None:
                inherited = getattr(cls, name, None)
                if inherited is None or not callable(inherited):
                    continue
                original = inherited
            if getattr(original, _GUARD_MARK, False) or not callable(original):
                continue
            setattr(cls, name, _guarded(original))


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        origin = _guard_for(self)
        if origin is not None:
            origin.policy.check_fine_tune(origin.den_label, origin.model_id)
        return fn(self, *args, **kwargs)

    setattr(wrapper, _GUARD_MARK, True)
    return wrapper
