"""Loading a MedCAT pack folder into a CAT with the initializer's options."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from medcat.cat import CAT

from medcat_den.errors import ConfigError, InvalidPackError

logger = logging.getLogger(__name__)

# MedCAT 2 stores addons (MetaCAT, RelCAT) in components/addon_<full name>/.
_COMPONENTS_FOLDER = "components"
_ADDON_PREFIX = "addon_"
WARM_UP_TEXT = "Patient has a history of diabetes mellitus and hypertension."


def validate_device(device: str | None) -> str | None:
    """Return ``device`` if torch can use it here; raise ConfigError naming it otherwise."""
    if device is None or device == "":
        return None
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ConfigError(f"invalid device {device!r} for the MedCAT initializer: {e}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available on this host")
    return device


def addon_names(pack_path: str) -> list[str]:
    """Full names of the addons saved in a pack folder (e.g. ``meta_cat.Presence``)."""
    folder = os.path.join(pack_path, _COMPONENTS_FOLDER)
    if not os.path.isdir(folder):
        return []
    return sorted(
        entry.removeprefix(_ADDON_PREFIX)
        for entry in os.listdir(folder)
        if entry.startswith(_ADDON_PREFIX) and os.path.isdir(os.path.join(folder, entry))
    )


def load_cat(
    pack_path: str,
    *,
    config_dict: dict[str, Any] | None = None,
    device: str | None = None,
    warm_up: bool = False,
) -> CAT:
    """Load the pack folder at ``pack_path``; ``device`` applies to every torch addon."""
    if not os.path.isdir(pack_path) or not os.path.exists(os.path.join(pack_path, "cdb")):
        raise InvalidPackError(f"not a MedCAT model pack folder (no cdb inside): {pack_path}")
    device = validate_device(device)
    addon_config: dict[str, dict[str, Any]] | None = None
    if device is not None:
        addon_config = {name: {"general": {"device": device}} for name in addon_names(pack_path)}
    start = time.perf_counter()
    cat = CAT.load_model_pack(pack_path, config_dict=config_dict or None,
                              addon_config_dict=addon_config or None)
    logger.info("loaded MedCAT pack %s in %.2fs", pack_path, time.perf_counter() - start)
    if warm_up:
        cat.get_entities(WARM_UP_TEXT)
    return cat
