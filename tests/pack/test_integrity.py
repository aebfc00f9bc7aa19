"""Tampered bytes are refused before anything is unpickled."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from medcat_den.den import Den
from medcat_den.errors import IntegrityError
from medcat_den.pack.layout import blob_key, manifest_key
from medcat_den.storage.local import LocalFolderBackend


class _Exploit:
    def __init__(self, sentinel: str) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.sentinel}",))


def _eventually_empty(folder: Path, timeout: float = 10.0) -> bool:
    """Materialised folders are hidden at once and deleted by a background thread."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [p for p in folder.iterdir() if not p.name.endswith(".trash")] and not list(
                folder.iterdir()):
            return True
        time.sleep(0.05)
    return False


def _blob_file(den: Den, rel: str, ref: str) -> Path:
    sha = den.manifest(ref).files[rel].blob
    path = den.backend.local_path(blob_key(sha))
    assert path
    return Path(path)


def test_flipped_byte_raises_and_loads_nothing(den_root: Path, tiny_pack: Path) -> None:
    den = Den(LocalFolderBackend(str(den_root)))
    info = den.push_model(str(tiny_pack), "x", name="tiny")
    blob = _blob_file(den, "cdb/raw_dict.dat", "den://tiny")
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as err:
        den.fetch_model("den://tiny")
    assert info.model_id in str(err.value) and "cdb/raw_dict.dat" in str(err.value)
    assert any("cdb/raw_dict.dat" in p for p in den.verify())
    assert _eventually_empty(den_root / "tmp")  # no materialised folder left


def test_malicious_pickle_swapped_in_is_never_unpickled(den_root: Path, tiny_pack: Path,
                                                        tmp_path: Path) -> None:
    den = Den(LocalFolderBackend(str(den_root)))
    den.push_model(str(tiny_pack), "x", name="tiny")
    sentinel = tmp_path / "pwned"
    blob = _blob_file(den, "cdb/raw_dict.dat", "den://tiny")
    os.chmod(blob, 0o644)
    blob.write_bytes(pickle.dumps(_Exploit(str(sentinel))))
    with pytest.raises(IntegrityError):
        den.fetch_model("den://tiny")
    assert not sentinel.exists()


def test_edited_manifest_is_refused(den_root: Path, tiny_pack: Path, tiny_pack_b: Path) -> None:
    den = Den(LocalFolderBackend(str(den_root)))
    a = den.push_model(str(tiny_pack), "a", name="a")
    b = den.push_model(str(tiny_pack_b), "b", name="b")
    path = Path(den.backend.local_path(manifest_key(a.model_id)) or "")
    doc = json.loads(path.read_text())
    # point a's CDB at b's bytes: every blob is intact, but the manifest lies
    doc["files"]["cdb/raw_dict.dat"] = den.manifest(b.model_id).files["cdb/raw_dict.dat"].model_dump()
    os.chmod(path, 0o644)
    path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="does not match its content id"):
        den.fetch_model("den://a")
