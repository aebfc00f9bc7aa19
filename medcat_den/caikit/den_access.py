"""Which den the caikit components use, as a small serialisable spec.

The finder's config names the den; the same spec travels in the ModuleConfig it
returns so that whichever initializer runs can reopen that den (see
adrs/0401-finder-hands-a-resolved-ref.md). Keys (all optional; unset = the
``get_default_den()`` resolution: environment, then the user's local den):

    den_type:        backend type (LOCAL_USER, LOCAL_MACHINE, S3, ...)
    den_path:        folder of a local den (or the backend's path setting)
    den_config_file: a den YAML config naming backends
    den_backend:     which backend of that config file
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medcat.cat import CAT

from medcat_den.caikit.pack_loading import WARM_UP_TEXT, validate_device
from medcat_den.den import Den
from medcat_den.den.den_spec import DenSpec


def den_spec(config: Mapping[str, Any], owner: str) -> dict[str, str]:
    """The den keys of ``config`` that are set, validated as strings."""
    return DenSpec.from_mapping(config, owner).model_dump(exclude_none=True)


def open_den(spec: Mapping[str, Any]) -> Den:
    return DenSpec.from_mapping(spec).open()


def fetch_cat(
    den: Den,
    content_id: str,
    *,
    config_dict: dict[str, Any] | None = None,
    device: str | None = None,
    warm_up: bool = False,
) -> CAT:
    """Load a den model as a CAT through the den (verified, policies applied, source recorded)."""
    cat = den.fetch_model(content_id, config_dict=config_dict or None,
                          device=validate_device(device))
    if warm_up:
        cat.get_entities(WARM_UP_TEXT)
    return cat
