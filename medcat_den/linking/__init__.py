"""Trainable embedding linker for MedCAT (``medcat_den.linking``).

Importing this package registers the linkers ``medcat_den_embedding_linker``
and ``medcat_den_trainable_embedding_linker`` with MedCAT. Heavy objects
(torch models) are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from medcat_den.linking import registration as _registration
from medcat_den.linking.config import (
    STATIC_LINKER_NAME,
    TRAINABLE_LINKER_NAME,
    EmbeddingLinkingConfig,
)
from medcat_den.linking.evaluate import evaluate

if TYPE_CHECKING:
    from medcat_den.linking.builder import build_cat, build_pack
    from medcat_den.linking.context_model import ContextModel
    from medcat_den.linking.embedding_model import ModelForEmbeddingLinking
    from medcat_den.linking.static_linker import EmbeddingLinker
    from medcat_den.linking.trainable_linker import TrainableEmbeddingLinker

_LAZY = {
    "build_cat": "medcat_den.linking.builder",
    "build_pack": "medcat_den.linking.builder",
    "get_linker": "medcat_den.linking.builder",
    "ContextModel": "medcat_den.linking.context_model",
    "ModelForEmbeddingLinking": "medcat_den.linking.embedding_model",
    "EmbeddingLinker": "medcat_den.linking.static_linker",
    "TrainableEmbeddingLinker": "medcat_den.linking.trainable_linker",
}

__all__ = ["STATIC_LINKER_NAME", "TRAINABLE_LINKER_NAME", "EmbeddingLinkingConfig", "evaluate",
           "build_cat", "build_pack", "get_linker", "ContextModel", "ModelForEmbeddingLinking",
           "EmbeddingLinker", "TrainableEmbeddingLinker"]

_registration.register()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'medcat_den.linking' has no attribute {name!r}")
