"""Backend types by name: built-ins, import paths (a custom backend) and entry points."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from medcat_den.errors import ConfigError
from medcat_den.storage.local import LocalFolderBackend
from medcat_den.storage.registry import available_backend_types, create_backend
from medcat_den.storage.s3 import S3Backend

# A complete, minimal custom backend, as a user would ship it in their own package
# (the README's example). It keeps everything in a process-wide dict.
CUSTOM_BACKEND = textwrap.dedent('''
    import hashlib
    from collections.abc import Iterator

    from medcat_den.errors import KeyNotFoundError
    from medcat_den.storage.backend import StoreBackend, validate_key

    STORES: dict[str, dict[str, dict[str, bytes]]] = {}


    class MemoryBackend(StoreBackend):
        """Objects and refs in memory. Config keys: namespace (str)."""

        def __init__(self, namespace: str = "default") -> None:
            self.namespace = namespace
            store = STORES.setdefault(namespace, {"objects": {}, "refs": {}})
            self.objects, self.refs = store["objects"], store["refs"]

        def get_bytes(self, key: str) -> bytes:
            try:
                return self.objects[validate_key(key)]
            except KeyError:
                raise KeyNotFoundError(f"{key} not found in {self.describe()}") from None

        def get_file(self, key: str, dest_path: str) -> None:
            data = self.get_bytes(key)
            with open(dest_path, "wb") as f:
                f.write(data)

        def put_bytes_if_absent(self, key: str, data: bytes) -> bool:
            if validate_key(key) in self.objects:
                return False
            self.objects[key] = bytes(data)
            return True

        def put_file_if_absent(self, key: str, src_path: str) -> bool:
            with open(src_path, "rb") as f:
                return self.put_bytes_if_absent(key, f.read())

        def exists(self, key: str) -> bool:
            return validate_key(key) in self.objects

        def list_keys(self, prefix: str) -> Iterator[str]:
            return iter([k for k in self.objects if k.startswith(prefix)])

        def delete(self, key: str) -> None:
            self.objects.pop(validate_key(key), None)

        def read_ref(self, key: str) -> tuple[bytes, str] | None:
            data = self.refs.get(validate_key(key))
            return None if data is None else (data, hashlib.sha256(data).hexdigest())

        def write_ref(self, key: str, data: bytes | None, expected_token: str | None) -> bool:
            current = self.read_ref(key)
            if (current[1] if current else None) != expected_token:
                return False
            if data is None:
                self.refs.pop(key, None)
            else:
                self.refs[key] = bytes(data)
            return True

        def list_refs(self, prefix: str) -> Iterator[str]:
            return iter([k for k in self.refs if k.startswith(prefix)])

        def describe(self) -> str:
            return f"MemoryBackend({self.namespace})"
''')


@pytest.fixture()
def addon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed add-on package: importable module + dist-info declaring an entry point."""
    pkg = f"den_addon_{uuid.uuid4().hex[:8]}"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / pkg / "memory.py").write_text(CUSTOM_BACKEND)
    dist = tmp_path / f"{pkg}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {pkg}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[medcat_den.backends]\n{pkg}_mem = {pkg}.memory:MemoryBackend\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    for mod in [m for m in sys.modules if m.startswith(pkg)]:
        del sys.modules[mod]


def test_builtins_case_insensitive(tmp_path: Path) -> None:
    b = create_backend("local_user", {"root": str(tmp_path / "d")})
    assert isinstance(b, LocalFolderBackend) and b.root == str(tmp_path / "d")
    m = create_backend("Local_Machine", {"path": str(tmp_path / "m")})
    assert isinstance(m, LocalFolderBackend) and m.shared
    s3 = create_backend("s3", {"url": "s3://bucket/pre"})
    assert isinstance(s3, S3Backend) and (s3.bucket, s3.prefix) == ("bucket", "pre")
    assert create_backend("S3", {"path": "s3://b2/x"}).describe().startswith("S3Backend(s3://b2/x")
    with pytest.raises(ConfigError, match="valid: root, shared"):
        create_backend("LOCAL_USER", {"root": str(tmp_path), "colour": "red"})


def test_unknown_type_lists_valid_ones() -> None:
    with pytest.raises(ConfigError) as e:
        create_backend("FTP", None)
    msg = str(e.value)
    assert "'FTP'" in msg and "LOCAL_USER" in msg and "LOCAL_MACHINE" in msg and "S3" in msg
    assert "pkg.module.Class" in msg
    with pytest.raises(ConfigError, match="cannot import module 'no_such_pkg_xyz'"):
        create_backend("no_such_pkg_xyz.Backend", None)
    with pytest.raises(ConfigError, match="has no 'Nope'"):
        create_backend("medcat_den.storage.s3.Nope", None)
    with pytest.raises(ConfigError, match="not a StoreBackend subclass"):
        create_backend("collections.OrderedDict", None)
    with pytest.raises(ConfigError, match="abstract"):
        create_backend("medcat_den.storage.backend.StoreBackend", None)


def test_custom_backend_by_import_path_is_a_working_den(
    addon: str, tiny_pack: Path, tmp_path: Path
) -> None:
    from medcat_den.den import Den

    backend = create_backend(f"{addon}.memory.MemoryBackend", {"namespace": "t1"})
    assert backend.describe() == "MemoryBackend(t1)" and not backend.is_local
    with pytest.raises(ConfigError, match="invalid config keys"):
        create_backend(f"{addon}.memory.MemoryBackend", {"colour": "red"})
    den = Den(backend)
    info = den.push_model(str(tiny_pack), "custom", name="tiny")
    # a second instance of the same namespace sees the model
    again = Den(create_backend(f"{addon}.memory.MemoryBackend", {"namespace": "t1"}))
    assert [m.model_id for m in again.list_available_models()] == [info.model_id]
    cat = again.fetch_model("den://tiny")
    assert cat.cdb.cui2info.keys() >= {"C0011849", "C0020538"}


def test_entry_point_addon(addon: str) -> None:
    assert f"{addon}_mem".upper() in available_backend_types()
    backend = create_backend(f"{addon}_MEM", {"namespace": "t2"})
    assert backend.describe() == "MemoryBackend(t2)"
    with pytest.raises(ConfigError) as e:
        create_backend("nope", None)
    assert f"{addon}_mem".upper() in str(e.value)


def test_resolver_uses_registry(addon: str, isolated_env: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from medcat_den.den import get_default_den

    monkeypatch.delenv("MEDCAT_DEN_PATH", raising=False)
    monkeypatch.setenv("MEDCAT_DEN_TYPE", f"{addon}.memory.MemoryBackend")
    den = get_default_den(offline=False)
    assert den.backend.describe().startswith("MemoryBackend")
