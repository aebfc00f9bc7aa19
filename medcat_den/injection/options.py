"""``InjectionOptions``: what an injection does, from arguments or the environment.

Config keys (argument / environment variable, explicit arguments win over the
environment, the environment over the defaults):

- ``den_getter`` / -: zero-argument callable returning the den
  (default :func:`medcat_den.den.get_default_den`, itself configured by ``MEDCAT_DEN_*``).
- ``model_name_mapper`` / ``MEDCAT_DEN_INJECT_MAPPER``: a dict or a callable from the
  name the code passes to a den ref (a callable may return ``None``: "load it from disk");
  the environment variable names a JSON or YAML file holding the dict.
- ``prefix`` / ``MEDCAT_DEN_INJECT_PREFIX``: only names starting with it come from the den
  (prefix stripped), all others load from disk; unset or empty: existing paths load from
  disk, every other name comes from the den.
- ``inject_save`` / ``MEDCAT_DEN_INJECT_SAVE`` (``1/true/yes/on`` or ``0/false/no/off``):
  ``save_model_pack`` pushes to the den instead of writing to disk.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from medcat_den.errors import ConfigError

ENV_PREFIX = "MEDCAT_DEN_INJECT_PREFIX"
ENV_MAPPER = "MEDCAT_DEN_INJECT_MAPPER"
ENV_SAVE = "MEDCAT_DEN_INJECT_SAVE"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class DenLike(Protocol):
    """The part of :class:`medcat_den.den.Den` injection uses."""

    def fetch_model(self, ref: Any, /, cat_class: Any = ..., config_dict: Any = ...) -> Any: ...

    def push_model(self, model: Any, description: str = ..., /, *, name: Any = ...) -> Any: ...

    def materialise(self, ref: Any, /) -> AbstractContextManager[str]: ...


ModelNameMapper = Mapping[str, str] | Callable[[str], str | None]
DenGetter = Callable[[], DenLike]


class Unset(enum.Enum):
    """Marks an argument the caller did not give (so the environment may supply it)."""

    UNSET = "UNSET"


UNSET = Unset.UNSET


def default_den_getter() -> DenLike:
    """:func:`medcat_den.den.get_default_den`, imported when first needed."""
    from medcat_den.den import get_default_den

    den: DenLike = get_default_den()
    return den


def parse_bool(value: str, what: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ConfigError(
        f"{what}={value!r} is not a boolean: use one of 1/true/yes/on or 0/false/no/off"
    )


def load_mapper_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a ``{name: den ref}`` mapping from a ``.json``, ``.yaml`` or ``.yml`` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read model name mapper file {str(p)!r}: {e.strerror}") from e
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"model name mapper file {str(p)!r} is not valid YAML: {e}") from e
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"model name mapper file {str(p)!r} is not valid JSON: {e}") from e
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(
            f"model name mapper file {str(p)!r} must hold a mapping of name -> den ref (strings)"
        )
    return dict(data)


@dataclass(frozen=True)
class InjectionOptions:
    """Resolved options of one injection (see the module docstring for the keys)."""

    den_getter: DenGetter = default_den_getter
    model_name_mapper: ModelNameMapper | None = None
    prefix: str | None = None
    inject_save: bool = False
    # where a mapper read from a file came from (so the runner can hand it to children)
    mapper_file: str | None = field(default=None, compare=False)

    @classmethod
    def resolve(
        cls,
        den_getter: DenGetter | Unset = UNSET,
        model_name_mapper: ModelNameMapper | str | os.PathLike[str] | None | Unset = UNSET,
        prefix: str | None | Unset = UNSET,
        inject_save: bool | Unset = UNSET,
        environ: Mapping[str, str] | None = None,
    ) -> InjectionOptions:
        """Explicit arguments > ``MEDCAT_DEN_INJECT_*`` environment variables > defaults.

        A ``str``/path ``model_name_mapper`` names a mapper file.
        """
        env = os.environ if environ is None else environ
        mapper_file: str | None = None
        if isinstance(model_name_mapper, Unset):
            model_name_mapper = env.get(ENV_MAPPER) or None
        if isinstance(model_name_mapper, (str, os.PathLike)):
            mapper_file = os.path.abspath(os.fspath(model_name_mapper))
            mapper: ModelNameMapper | None = load_mapper_file(mapper_file)
        elif model_name_mapper is None or isinstance(model_name_mapper, Mapping) or callable(
            model_name_mapper
        ):
            mapper = model_name_mapper
        else:
            raise ConfigError(
                f"model_name_mapper must be a dict, a callable or a file path, "
                f"not {type(model_name_mapper).__name__}"
            )
        if isinstance(prefix, Unset):
            prefix = env.get(ENV_PREFIX)
        if prefix is not None and not isinstance(prefix, str):
            raise ConfigError(f"prefix must be a string, not {type(prefix).__name__}")
        if isinstance(inject_save, Unset):
            inject_save = parse_bool(env.get(ENV_SAVE, ""), ENV_SAVE)
        if isinstance(den_getter, Unset):
            den_getter = default_den_getter
        if not callable(den_getter):
            raise ConfigError("den_getter must be a zero-argument callable returning a den")
        return cls(
            den_getter=den_getter,
            model_name_mapper=mapper,
            prefix=prefix or None,
            inject_save=bool(inject_save),
            mapper_file=mapper_file,
        )

    def to_env(self) -> dict[str, str]:
        """The ``MEDCAT_DEN_INJECT_*`` variables a child process needs to inject the same way.

        A mapper given as a dict or callable (not a file) cannot be handed on and is left out.
        """
        out = {ENV_PREFIX: self.prefix or "", ENV_SAVE: "1" if self.inject_save else "0"}
        out[ENV_MAPPER] = self.mapper_file or ""
        return out
