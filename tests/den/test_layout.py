"""The den's key layout and the local backend agree on which objects are shared, read-only blobs."""

from __future__ import annotations

import os
import stat

from medcat_den.pack import layout
from medcat_den.storage.local import LocalFolderBackend


def test_blob_keys_are_stored_read_only(tmp_path: os.PathLike[str]) -> None:
    backend = LocalFolderBackend(str(tmp_path))
    blob, manifest = layout.blob_key("ab" * 32), layout.manifest_key("cd" * 32)
    assert blob.startswith(LocalFolderBackend.read_only_prefixes)
    assert not manifest.startswith(LocalFolderBackend.read_only_prefixes)
    backend.put_bytes_if_absent(blob, b"x")
    backend.put_bytes_if_absent(manifest, b"{}")
    path = backend.local_path(blob)
    assert path is not None and not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    mpath = backend.local_path(manifest)
    assert mpath is not None and os.stat(mpath).st_mode & stat.S_IWUSR
