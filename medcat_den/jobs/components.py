"""How a job gets the TrainableComponent out of a loaded MedCAT pack.

A ``component_factory`` (trainer config key, ``"module:function"``) is called as
``factory(cat, pack_dir)`` and returns a
:class:`~medcat_den.training.TrainableComponent` that is part of ``cat`` (so
``cat.save_model_pack`` saves what it learned; a component may also offer
``save_into_pack(pack_dir)``). The default, :func:`embedding_linker_component`, takes
the pack's linking component and uses its ``as_trainable()`` adapter (or the component
itself if it already implements the protocol).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from medcat_den.errors import ConfigError, TrainingError
from medcat_den.training import TrainableComponent

DEFAULT_FACTORY = "medcat_den.jobs.components:embedding_linker_component"
ComponentFactory = Callable[[Any, str], TrainableComponent]


def embedding_linker_component(cat: Any, pack_dir: str) -> TrainableComponent:
    """The trainable view of the CAT's linker."""
    from medcat.components.types import CoreComponentType

    try:
        linker = cat._pipeline.get_component(CoreComponentType.linking)
    except (AttributeError, ValueError) as err:
        raise TrainingError(f"the base model has no linking component: {err}") from None
    adapter = getattr(linker, "as_trainable", None)
    component = adapter() if callable(adapter) else linker
    if not isinstance(component, TrainableComponent):
        raise TrainingError(
            f"the base model's linker ({type(linker).__name__}) is not trainable: build the "
            "pack with the trainable embedding linker (medcat-den linker build --trainable)")
    return component


def load_factory(path: str) -> ComponentFactory:
    """Import ``"package.module:function"``."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"component_factory must be 'module:function', got {path!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot import component_factory {path!r}: {err}") from None
    if not callable(factory):
        raise ConfigError(f"component_factory {path!r} is not callable")
    return factory  # type: ignore[no-any-return]
