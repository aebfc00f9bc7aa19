"""Strict patterns for every user-supplied name, alias, version and content id."""

from __future__ import annotations

import re

from medcat_den.errors import InvalidNameError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
CONTENT_ID_RE = re.compile(r"^[0-9a-f]{64}$")
ID_PREFIX_RE = re.compile(r"^[0-9a-f]{12,64}$")
SHA256_RE = CONTENT_ID_RE


def validate_name(name: str, what: str = "model name") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise InvalidNameError(
            f"invalid {what} {name!r}: use 1-100 of A-Z a-z 0-9 . _ - starting with a letter "
            "or digit, without '..'"
        )
    return name


def validate_alias(alias: str) -> str:
    validate_name(alias, "alias")
    if alias.isdigit():
        raise InvalidNameError(f"invalid alias {alias!r}: all-digit aliases look like versions")
    return alias


def validate_content_id(cid: str) -> str:
    if not isinstance(cid, str) or not CONTENT_ID_RE.match(cid):
        raise InvalidNameError(f"invalid content id {cid!r}: expected 64 lowercase hex digits")
    return cid


def validate_pack_path(rel: str) -> str:
    """A file path inside a pack: relative, '/'-separated, no '..', no odd characters."""
    parts = rel.split("/")
    if (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or any(p in ("", ".", "..") for p in parts)
        or any(not re.match(r"^[A-Za-z0-9_.+@=-][A-Za-z0-9_.+@= -]{0,254}$", p) for p in parts)
    ):
        raise InvalidNameError(f"invalid path inside a pack: {rel!r}")
    return rel
