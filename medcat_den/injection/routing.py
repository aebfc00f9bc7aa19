"""Which names an injection sends to the den, and as what (pure functions, no I/O but ``exists``).

Rules (options from :class:`medcat_den.injection.options.InjectionOptions`):

- ``prefix`` set: a name starting with it goes to the den with the prefix stripped;
  any other name loads from disk as usual.
- ``prefix`` unset: a name that is an existing path loads from disk; anything else goes
  to the den.
- the ``model_name_mapper`` then turns the name into a den ref: a dict maps the names it
  knows and leaves others unchanged; a callable returns the ref, or ``None`` for "load
  this one from disk". Names that already are den refs (``den://...``, content ids)
  skip the mapper.
- a ref without a scheme is a den name (``NAME``, ``NAME@ALIAS``, ``NAME/VERSION``).
- saves (``inject_save``, see :func:`save_target`): with no ``pack_name`` the target
  folder names the model (medcat-den 0.6.0 treated it as the pack name); the description
  is ``change_description``, else the pack name, else the target folder (0.6.0's rule, so
  ``cat.save_model_pack("a message")`` pushes with description "a message").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from medcat_den.den.refs import is_den_ref, parse_ref
from medcat_den.errors import ConfigError, InvalidNameError, InvalidSaveTargetError
from medcat_den.injection.options import InjectionOptions, ModelNameMapper


def apply_mapper(name: str, mapper: ModelNameMapper | None) -> str | None:
    if mapper is None or is_den_ref(name):
        return name
    if isinstance(mapper, Mapping):
        return mapper.get(name, name)
    out = mapper(name)
    if out is not None and not isinstance(out, str):
        raise ConfigError(
            f"model_name_mapper returned {type(out).__name__} for {name!r}; expected a den ref "
            "string or None"
        )
    return out


def _as_str(path: object) -> str | None:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    return path if isinstance(path, str) else None


def den_ref_for_load(model_pack_path: object, options: InjectionOptions) -> str | None:
    """The den ref to fetch for ``CAT.load_model_pack(model_pack_path)``, or None for disk."""
    name = _as_str(model_pack_path)
    if name is None:
        return None
    if options.prefix is not None:
        if not name.startswith(options.prefix):
            return None
        name = name[len(options.prefix):]
    elif os.path.exists(name):
        return None
    return apply_mapper(name, options.model_name_mapper)


def den_name_for_save(target_folder: object, pack_name: object,
                      options: InjectionOptions) -> str | None:
    """The den model name ``cat.save_model_pack(target_folder, pack_name)`` pushes to, or None.

    With a prefix, only saves whose pack path (``target_folder/pack_name``) starts with it
    go to the den, named by that path with the prefix (and leading ``/``) stripped: what a
    load of the same path would ask the den for. Without a prefix every save goes to the
    den, named ``pack_name``. A mapped ``den://NAME@ALIAS`` or ``den://NAME/VERSION``
    pushes a new version of ``NAME`` (aliases are not moved).
    """
    folder, pack = _as_str(target_folder), _as_str(pack_name)
    if folder is None or pack is None:
        return None
    if options.prefix is not None:
        joined = os.path.join(folder, pack)
        if not joined.startswith(options.prefix):
            return None
        name = joined[len(options.prefix):].lstrip("/" + os.sep)
    else:
        name = pack
    mapped = apply_mapper(name, options.model_name_mapper)
    if mapped is None:
        return None
    ref = parse_ref(mapped)
    if ref.name is None:
        raise InvalidNameError(
            f"cannot save {name!r} to the den as {mapped!r}: that is a content id, not a model name"
        )
    return ref.name


DEFAULT_PACK_NAME = "medcat2_model_pack"  # MedCAT's; a save without pack_name gets it


@dataclass(frozen=True)
class SaveTarget:
    """Where an injected ``save_model_pack`` pushes: a den name (None: the den's default)."""

    name: str | None
    description: str


def save_target(target_folder: object, pack_name: object, change_description: object,
                options: InjectionOptions) -> SaveTarget | None:
    """What ``cat.save_model_pack(target_folder, pack_name, ...)`` pushes, or None for disk.

    A target folder that is not a path string is refused (InvalidSaveTargetError)
    rather than handed to MedCAT, which fails inside with a TypeError.
    """
    folder = _as_str(target_folder)
    if folder is None:
        raise InvalidSaveTargetError(
            f"save_model_pack(target_folder={target_folder!r}) with den injection "
            "(inject_save): the target folder must be a path string; to push with a "
            "description, pass change_description=... (or the description as the target "
            "folder, medcat-den 0.6.0 style)")
    if pack_name is not None and _as_str(pack_name) is None:
        raise InvalidSaveTargetError(f"save_model_pack(pack_name={pack_name!r}): not a string")
    given = _as_str(pack_name) if pack_name not in (None, DEFAULT_PACK_NAME) else None
    if change_description is not None and not isinstance(change_description, str):
        raise InvalidSaveTargetError(
            f"save_model_pack(change_description={change_description!r}): not a string")
    description = change_description or given or folder
    if given is not None:
        name = den_name_for_save(folder, given, options)
        return None if name is None else SaveTarget(name, description)
    # no pack name: the target folder is the model's name (0.6.0: "use folder as pack name")
    if options.prefix is not None:
        if not folder.startswith(options.prefix):
            return None
        base = folder[len(options.prefix):].strip("/" + os.sep)
    else:
        base = os.path.basename(os.path.normpath(folder)) if folder else ""
    mapped = apply_mapper(base, options.model_name_mapper) if base else base
    if mapped is None:
        return None
    try:
        ref = parse_ref(mapped) if mapped else None
    except InvalidNameError:
        ref = None  # e.g. a message with spaces (0.6.0 style): the den picks the name
    return SaveTarget(ref.name if ref is not None else None, description)
