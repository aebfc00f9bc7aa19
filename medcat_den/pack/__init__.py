"""The MedCAT pack format in the den: manifests, canonical substance, integrity, archive safety, names
and the key layout under which a den stores them."""

from medcat_den.pack.manifest import FileEntry, PackManifest

__all__ = ["FileEntry", "PackManifest"]
