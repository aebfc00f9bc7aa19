"""``PackManifest``: what a stored model is made of, and its content id.

The content id is the sha256 of the manifest's *canonical form*: the schema,
the substance digest (see ``medcat_den.pack.canonical``) and the file map
(pack path -> blob sha256 and size), as compact sorted JSON. Descriptive
fields (description, created time, parents, metadata, model card) are
annotations recorded at first push and are not part of the identity, so the
same content pushed twice has one id, and a fetched manifest can be checked
against its id before any blob is trusted.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from medcat_den.errors import IntegrityError
from medcat_den.pack.integrity import sha256_bytes
from medcat_den.pack.names import validate_content_id, validate_pack_path

SCHEMA = "medcat-den/manifest/1"


class FileEntry(BaseModel):
    """One file of a pack: its blob's sha256 and size in bytes."""

    model_config = ConfigDict(frozen=True)

    blob: str
    size: int
    #: digest of the file's substance (see ``canonical``); lets a derivative reuse
    #: its parent's bytes for files whose content did not change. Not part of the id.
    substance: str | None = None


class PackManifest(BaseModel):
    """The JSON document stored at ``manifests/<content_id>.json``."""

    model_config = ConfigDict(frozen=True)

    schema_version: str = SCHEMA
    substance: str
    files: dict[str, FileEntry]
    name: str | None = None
    description: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    medcat_version: str = ""
    medcat_model_id: str | None = None
    model_card: dict[str, Any] = Field(default_factory=dict)
    parents: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def canonical_form(self) -> bytes:
        core = {
            "schema": self.schema_version,
            "substance": self.substance,
            "files": {p: [e.blob, e.size] for p, e in sorted(self.files.items())},
        }
        return json.dumps(core, sort_keys=True, separators=(",", ":")).encode()

    @property
    def content_id(self) -> str:
        return sha256_bytes(self.canonical_form())

    @property
    def size(self) -> int:
        return sum(e.size for e in self.files.values())

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes, expected_id: str | None = None) -> PackManifest:
        try:
            manifest = cls.model_validate_json(data)
        except ValueError as e:
            raise IntegrityError(f"manifest {expected_id or ''} is not valid: {e}") from e
        for rel, entry in manifest.files.items():
            validate_pack_path(rel)
            validate_content_id(entry.blob)
        if expected_id is not None and manifest.content_id != expected_id:
            raise IntegrityError(
                f"manifest of model {expected_id} does not match its content id "
                f"(it hashes to {manifest.content_id}); the den's manifest was altered"
            )
        return manifest
