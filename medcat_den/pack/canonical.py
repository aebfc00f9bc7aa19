"""The *substance* digest of a MedCAT pack: what the model is, not how it was saved.

Every save rewrites save-time metadata (``model_card.json``, ``cdb/config/meta``)
and dill pickles of sets differ between processes (hash randomisation), so the
bytes of two saves of one model differ. The substance digest hashes:

* files under ``SAVE_TIME_PATHS``: skipped;
* ``*.dat`` files (MedCAT's dill serialisation): unpickled and hashed in a
  canonical order (sets sorted, dict items sorted, arrays by dtype/shape/bytes);
* every other file (component weights, JSON, tokenizer files): by its bytes.

Unpickling happens only for packs being *pushed* (the user's own files);
fetched blobs are verified by their sha256 before anything is unpickled.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import logging
import os
import pickle
from collections.abc import Callable, Iterable
from typing import Any

logger = logging.getLogger(__name__)

SAVE_TIME_PATHS = ("model_card.json", "cdb/config/meta/")


def is_save_time_path(rel: str) -> bool:
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in SAVE_TIME_PATHS)


class _Hasher:
    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def w(self, tag: bytes, data: bytes = b"") -> None:
        self.h.update(tag + len(data).to_bytes(8, "little") + data)


def _digest(obj: Any) -> bytes:
    sub = _Hasher()
    _feed(sub, obj)
    return sub.h.digest()


def _sorted_items(items: Iterable[Any]) -> list[Any]:
    seq = list(items)
    if all(isinstance(x, str) for x in seq):
        return sorted(seq)
    return sorted(seq, key=_digest)


def _feed(h: _Hasher, obj: Any) -> None:  # noqa: C901 - a flat type switch
    if obj is None:
        h.w(b"N")
    elif isinstance(obj, bool):
        h.w(b"B", b"1" if obj else b"0")
    elif isinstance(obj, enum.Enum):
        h.w(b"E", f"{type(obj).__qualname__}.{obj.name}".encode())
    elif isinstance(obj, int):
        h.w(b"I", str(obj).encode())
    elif isinstance(obj, float):
        h.w(b"F", repr(obj).encode())
    elif isinstance(obj, str):
        h.w(b"S", obj.encode("utf-8", "surrogatepass"))
    elif isinstance(obj, (bytes, bytearray)):
        h.w(b"Y", bytes(obj))
    elif isinstance(obj, dict):
        h.w(b"D", str(len(obj)).encode())
        keys = list(obj.keys())
        if all(isinstance(k, str) for k in keys):
            for k in sorted(keys):
                h.w(b"k", k.encode("utf-8", "surrogatepass"))
                _feed(h, obj[k])
        else:
            pairs = sorted(((_digest(k), k) for k in keys), key=lambda p: p[0])
            for dk, k in pairs:
                h.w(b"K", dk)
                _feed(h, obj[k])
    elif isinstance(obj, (set, frozenset)):
        h.w(b"T", str(len(obj)).encode())
        for item in _sorted_items(obj):
            _feed(h, item)
    elif isinstance(obj, (list, tuple)):
        h.w(b"L", str(len(obj)).encode())
        for item in obj:
            _feed(h, item)
    else:
        _feed_object(h, obj)


def _feed_object(h: _Hasher, obj: Any) -> None:
    cls = f"{type(obj).__module__}.{type(obj).__qualname__}".encode()
    mod = type(obj).__module__
    if mod == "numpy" or hasattr(obj, "__array_interface__"):
        import numpy as np

        arr = np.ascontiguousarray(obj)
        h.w(b"A", f"{arr.dtype.str}{arr.shape}".encode())
        if arr.dtype == object:
            for item in arr.ravel().tolist():
                _feed(h, item)
        else:
            h.w(b"a", arr.tobytes())
        return
    if mod.startswith("torch") and hasattr(obj, "detach"):
        _feed_object(h, obj.detach().cpu().numpy())
        return
    h.w(b"O", cls)
    dump: Callable[[], Any] | None = getattr(obj, "model_dump", None)
    if callable(dump):
        _feed(h, dump())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        _feed(h, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    elif hasattr(obj, "__dict__"):
        _feed(h, dict(vars(obj)))
    elif hasattr(obj, "__slots__"):
        _feed(h, {s: getattr(obj, s, None) for s in obj.__slots__})
    else:
        logger.debug("hashing %s by repr", cls.decode())
        h.w(b"R", repr(obj).encode())


def _normalise_nlp(obj: Any) -> Any:
    # loading rewrites the tokenizer model name to an absolute path in the load folder
    if isinstance(obj, dict) and isinstance(obj.get("modelname"), str):
        obj = dict(obj, modelname=os.path.basename(obj["modelname"].rstrip("/\\")))
    return obj


def _normalise_general(obj: Any) -> Any:
    # 'auto' is resolved at load time; an unresolved and an empty mapping mean the same
    if isinstance(obj, dict) and obj.get("map_to_other_ontologies") in ("auto", [], None):
        obj = dict(obj, map_to_other_ontologies=None)
    return obj


# load-time rewrites of a pack's config that do not change the model
_NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "cdb/config/general/nlp/raw_dict.dat": _normalise_nlp,
    "cdb/config/general/raw_dict.dat": _normalise_general,
}


def _load_dat(path: str) -> Any:
    import dill

    with open(path, "rb") as f:
        return dill.load(f)


def file_substance(path: str, rel: str) -> bytes:
    """Digest of one pack file's substance (see module docstring)."""
    if rel.endswith(".dat"):
        try:
            obj = _load_dat(path)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as e:
            logger.debug("%s is not a dill pickle (%s); hashing its bytes", rel, e)
        else:
            normalise = _NORMALISERS.get(rel)
            return b"dat:" + _digest(normalise(obj) if normalise else obj)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            h.update(chunk)
    return b"raw:" + h.digest()


def pack_substance(folder: str, files: Iterable[str]) -> tuple[str, dict[str, str]]:
    """The substance digest (hex) of a pack folder, and each file's own (save-time files: none)."""
    top = hashlib.sha256(b"medcat-den/substance/1\n")
    per_file: dict[str, str] = {}
    for rel in sorted(files):
        if is_save_time_path(rel):
            continue
        digest = file_substance(os.path.join(folder, rel), rel)
        per_file[rel] = hashlib.sha256(digest).hexdigest()
        top.update(rel.encode() + b"\0" + digest + b"\n")
    return top.hexdigest(), per_file
