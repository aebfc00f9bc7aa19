"""The ``MEDCAT`` ModelInitializer: turns a MedCAT ModuleConfig into a loaded MedCATModule.

Configuration::

    model_management:
        initializers:
            <name>:
                type: MEDCAT
                import_class: medcat_den.caikit.MedCATModelInitializer   # optional
                config:
                    device: null        # torch device for addons (MetaCAT...), e.g. cpu, cuda:0
                    config_dict: {}     # MedCAT Config overrides merged in before the pipe is built
                    warm_up: false      # run one short text through the pipe right after loading

Models of other modules are declined (``None``), so a ``MULTI`` chain moves on to ``LOCAL``.
Per-call overrides: ``ModelManager.load(ref, config_dict=..., device=..., warm_up=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aconfig
from caikit.core import ModuleConfig
from caikit.core.model_management import ModelInitializerBase

from medcat_den.caikit.module import MODULE_ID, MedCATModule
from medcat_den.caikit.pack_loading import validate_device
from medcat_den.errors import ConfigError


def plain(value: Any) -> Any:
    """aconfig.Config (and nested) → plain dicts/lists, as MedCAT expects."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, val in override.items():
        if isinstance(val, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], val)
        else:
            out[key] = plain(val)
    return out


class MedCATModelInitializer(ModelInitializerBase):  # type: ignore[misc]
    __doc__ = __doc__

    name = "MEDCAT"

    def __init__(self, config: aconfig.Config, instance_name: str) -> None:
        self._instance_name = instance_name
        self.device = validate_device(config.get("device"))
        config_dict = config.get("config_dict") or {}
        if not isinstance(config_dict, Mapping):
            raise ConfigError(f"initializer {instance_name!r}: config_dict must be a mapping, "
                              f"got {type(config_dict).__name__}")
        self.config_dict: dict[str, Any] = plain(config_dict)
        warm_up = config.get("warm_up", False)
        if not isinstance(warm_up, bool):
            raise ConfigError(f"initializer {instance_name!r}: warm_up must be true or false")
        self.warm_up = warm_up

    def init(self, model_config: ModuleConfig, **kwargs: Any) -> MedCATModule | None:
        if model_config.get("module_id") != MODULE_ID:
            return None
        config_dict = self.config_dict
        if kwargs.get("config_dict"):
            config_dict = deep_merge(config_dict, kwargs["config_dict"])
        device = kwargs.get("device") or self.device
        warm_up = bool(kwargs.get("warm_up", self.warm_up))
        return MedCATModule.load(model_config, config_dict=config_dict, device=device,
                                 warm_up=warm_up)
