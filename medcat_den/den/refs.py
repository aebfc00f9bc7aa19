"""Parsing model references.

Forms: ``den://NAME`` (alias ``latest``), ``den://NAME@ALIAS``,
``den://NAME/VERSION``, the same with ``den:/`` (what ``caikit``'s
``ModelManager.load`` makes of ``den://`` by normalising it as a path) or with
no scheme, and content ids: 64 hex digits or a unique prefix of at least 12.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medcat_den.errors import InvalidNameError
from medcat_den.pack.names import ID_PREFIX_RE, validate_alias, validate_name

SCHEME_RE = re.compile(r"^den:/{1,2}")
LATEST = "latest"


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: either ``id_prefix`` or ``name`` (+ ``alias`` or ``version``)."""

    name: str | None = None
    alias: str | None = None
    version: int | None = None
    id_prefix: str | None = None

    def __str__(self) -> str:
        if self.id_prefix:
            return self.id_prefix
        if self.version is not None:
            return f"den://{self.name}/{self.version}"
        return f"den://{self.name}@{self.alias or LATEST}"


def strip_scheme(ref: str) -> str:
    return SCHEME_RE.sub("", ref.strip(), count=1)


def is_den_ref(ref: object) -> bool:
    """True for strings with the ``den:`` scheme or that look like a content id."""
    if not isinstance(ref, str):
        return False
    s = ref.strip()
    return bool(SCHEME_RE.match(s)) or bool(ID_PREFIX_RE.match(s))


def parse_ref(ref: str) -> ModelRef:
    """Parse a ref string; raise InvalidNameError naming what is wrong."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidNameError(f"empty model reference: {ref!r}")
    body = strip_scheme(ref).strip("/") if SCHEME_RE.match(ref.strip()) else ref.strip()
    if ID_PREFIX_RE.match(body):
        return ModelRef(id_prefix=body)
    if "@" in body:
        name, _, alias = body.partition("@")
        return ModelRef(name=validate_name(name), alias=validate_alias(alias))
    if "/" in body:
        name, _, version = body.partition("/")
        if not version.isdigit():
            raise InvalidNameError(f"invalid model reference {ref!r}: version must be an integer")
        return ModelRef(name=validate_name(name), version=int(version))
    try:
        return ModelRef(name=validate_name(body), alias=LATEST)
    except InvalidNameError:
        raise InvalidNameError(
            f"invalid model reference {ref!r}: expected den://NAME, den://NAME@ALIAS, "
            "den://NAME/VERSION or a content id (>= 12 hex digits)"
        ) from None
