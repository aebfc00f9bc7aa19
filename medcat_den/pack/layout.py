"""The den's storage key layout: every key a den writes, how it is built and parsed.

Objects (immutable, created with put-if-absent):
    ``blobs/sha256/<aa>/<sha256>``         file bytes
    ``manifests/<content_id>.json``        a model's :class:`PackManifest`
    ``substance/<digest>``                 dedup index: first content id stored for a substance
    ``catalog/log/<seq>.json``             catalog entries, one per change (append-only)
    ``catalog/checkpoints/<seq>.json``     the whole catalog as of entry ``seq``
Refs (compare-and-swap):
    ``names/<name>.json``                  the layout before the catalog (read to upgrade)

Nothing else in the package spells these prefixes.
"""

from __future__ import annotations

from medcat_den.pack.names import SHA256_RE, validate_name

BLOBS = "blobs/sha256/"
MANIFESTS = "manifests/"
SUBSTANCE = "substance/"
CATALOG_LOG = "catalog/log/"
CATALOG_CHECKPOINTS = "catalog/checkpoints/"
LEGACY_NAMES = "names/"
_SEQ_DIGITS = 12


def blob_key(sha: str) -> str:
    return f"{BLOBS}{sha[:2]}/{sha}"


def blob_sha(key: str) -> str | None:
    """The sha256 a blob key names, or None if ``key`` is not a blob key."""
    parts = key.split("/")
    if len(parts) == 4 and f"{parts[0]}/{parts[1]}/" == BLOBS and SHA256_RE.match(parts[3]):
        return parts[3]
    return None


def is_blob_key(key: str) -> bool:
    return key.startswith(BLOBS)


def manifest_key(cid: str) -> str:
    return f"{MANIFESTS}{cid}.json"


def manifest_id(key: str) -> str | None:
    """The content id a manifest key names, or None."""
    if key.startswith(MANIFESTS) and key.endswith(".json"):
        return key[len(MANIFESTS): -len(".json")]
    return None


def substance_key(digest: str) -> str:
    return f"{SUBSTANCE}{digest}"


def log_key(seq: int) -> str:
    return f"{CATALOG_LOG}{seq:0{_SEQ_DIGITS}d}.json"


def checkpoint_key(seq: int) -> str:
    return f"{CATALOG_CHECKPOINTS}{seq:0{_SEQ_DIGITS}d}.json"


def _seq(key: str, prefix: str) -> int | None:
    if not key.startswith(prefix) or not key.endswith(".json"):
        return None
    digits = key[len(prefix): -len(".json")]
    return int(digits) if len(digits) == _SEQ_DIGITS and digits.isdigit() else None


def log_seq(key: str) -> int | None:
    return _seq(key, CATALOG_LOG)


def checkpoint_seq(key: str) -> int | None:
    return _seq(key, CATALOG_CHECKPOINTS)


def is_cacheable_meta(key: str) -> bool:
    """Immutable, content-named metadata a local cache may keep for offline use."""
    return key.startswith((MANIFESTS, "catalog/"))


def legacy_name_key(name: str) -> str:
    return f"{LEGACY_NAMES}{validate_name(name)}.json"


def legacy_name_of(key: str) -> str | None:
    if key.startswith(LEGACY_NAMES) and key.endswith(".json"):
        return key[len(LEGACY_NAMES): -len(".json")]
    return None
