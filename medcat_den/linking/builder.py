"""Building MedCAT packs that use the medcat_den embedding linkers.

``build_cat(concepts_csv, trainable=..., config_overrides=...)`` makes a CDB
from a ``cui,name[,ontologies,name_status]`` CSV, switches the linking config
to :class:`EmbeddingLinkingConfig` and returns a ``CAT`` whose linker has
embedded every name; its token normaliser is ``medcat_den_cached_normalizer`` (MedCAT's,
with the spell checker's work remembered: same output, see cached_normalizer.py).
``build_pack`` also saves it (``make_archive=False``).
``get_linker(cat)`` returns the linker component. No config keys of its own.
"""

from __future__ import annotations

import os
from typing import Any

from medcat_den.errors import ConfigError
from medcat_den.linking.config import (
    CACHED_NORMALIZER_NAME,
    STATIC_LINKER_NAME,
    TRAINABLE_LINKER_NAME,
    apply_settings,
    ensure_embedding_config,
)


def build_cat(concepts_csv: str, trainable: bool = False,
              config_overrides: dict[str, Any] | None = None) -> Any:
    """A CAT with an embedding linker over the concepts of ``concepts_csv``."""
    from medcat.cat import CAT
    from medcat.config import Config
    from medcat.model_creation.cdb_maker import CDBMaker
    from medcat.vocab import Vocab

    import medcat_den.linking  # noqa: F401  (registers the components)

    if not os.path.isfile(concepts_csv):
        raise ConfigError(f"concepts CSV {concepts_csv!r} does not exist")
    config = Config()
    config.components.token_normalizing.comp_name = CACHED_NORMALIZER_NAME
    cnf = ensure_embedding_config(
        config, TRAINABLE_LINKER_NAME if trainable else STATIC_LINKER_NAME)
    if trainable:
        cnf.use_projection_layer = True
    apply_settings(cnf, config_overrides or {})
    try:
        cdb = CDBMaker(config).prepare_csvs([concepts_csv])
    except (KeyError, ValueError) as err:
        raise ConfigError(f"concepts CSV {concepts_csv!r} is not a cui,name CSV: {err}") from err
    if not cdb.cui2info:
        raise ConfigError(f"concepts CSV {concepts_csv!r} has no concepts")
    return CAT(cdb, vocab=Vocab())


def build_pack(concepts_csv: str, out_dir: str, trainable: bool = False,
               pack_name: str = "linker_pack",
               config_overrides: dict[str, Any] | None = None) -> str:
    """Build and save a pack folder; returns its path."""
    cat = build_cat(concepts_csv, trainable, config_overrides)
    os.makedirs(out_dir, exist_ok=True)
    return str(cat.save_model_pack(out_dir, pack_name=pack_name, make_archive=False,
                                   add_hash_to_pack_name=False))


def get_linker(cat: Any) -> Any:
    """The linking component of ``cat``."""
    from medcat.components.types import CoreComponentType

    return cat.pipe.get_component(CoreComponentType.linking)
