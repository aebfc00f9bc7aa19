"""Registration of the medcat_den linkers (and the token normaliser of the packs
``build_cat`` makes) with MedCAT's core-component registry.

Lazy (no torch import until a linker is created). Called when
``medcat_den.linking`` is imported and by MedCAT's plugin loader through the
``medcat.plugins`` entry point ``medcat_den = "medcat_den.linking.registration"``.
"""

from __future__ import annotations

from medcat.components.types import CoreComponentType, lazy_register_core_component
from medcat.utils.registry import MedCATRegistryException

from medcat_den.linking.config import (
    CACHED_NORMALIZER_NAME,
    STATIC_LINKER_NAME,
    TRAINABLE_LINKER_NAME,
)

_COMPONENTS = [
    (CoreComponentType.linking, STATIC_LINKER_NAME, "medcat_den.linking.static_linker",
     "EmbeddingLinker.create_new_component"),
    (CoreComponentType.linking, TRAINABLE_LINKER_NAME, "medcat_den.linking.trainable_linker",
     "TrainableEmbeddingLinker.create_new_component"),
    (CoreComponentType.token_normalizing, CACHED_NORMALIZER_NAME,
     "medcat_den.linking.cached_normalizer", "CachedTokenNormalizer.create_new_component"),
]


def register() -> None:
    """Register both linkers and the normaliser (idempotent)."""
    for ctype, name, module, init in _COMPONENTS:
        try:
            lazy_register_core_component(ctype, name, module, init)
        except (MedCATRegistryException, KeyError):
            pass  # already registered (MedCAT raises KeyError for a lazy duplicate)


register()
