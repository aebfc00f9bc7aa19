"""medcat-den 0.6.0's ``medcat_den.utils``: ``summarise_den``, ``summarise_models``, ``cache_on_model``.

Config: none.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from pydantic import BaseModel

import medcat_den.compat  # noqa: F401  (registers finetune_model / evaluate_model)
from medcat_den.base import ModelInfo
from medcat_den.den import Den


def summarise_den(den: Den) -> str:
    """A summary of the den: its type and every model (with its MedCAT model card)."""
    models = [den.legacy_info(m) for m in den.list_available_models()]
    summary = summarise_models(models) if models else "No models available"
    return f"Den ({den.den_type.name}) with {len(models)} models:\n{summary}"


def summarise_models(models: list[ModelInfo]) -> str:
    """One block per model: id, description, history, ontologies, meta models, version."""
    lines: list[str] = []
    for model in models:
        mc = getattr(model, "model_card", None)
        if mc is None:
            lines.append(f"{model.model_id}: No model card available")
            continue
        metas = mc.get("MetaCAT models")
        meta_cats = (list(metas) if isinstance(metas, (list, dict)) else [])
        lines.append(
            f"{model.model_id} ({mc.get('Description')!r})\n"
            f" - History: {mc.get('History (from least to most recent)')}\n"
            f" - Source ontologies: {mc.get('Source Ontology')}\n"
            f" - Meta models: {meta_cats}\n"
            f" - MedCAT Version: {mc.get('MedCAT Version')}\n"
            f" - Last updated: {mc.get('Last Modified On')}")
    return "\n".join(lines)


def cache_on_model(func: Callable[[Any], Any]) -> Any:
    """Cache ``func(model)`` on the model's JSON (pydantic models are not hashable)."""
    @cache
    def cached(json_key: str, type_: type[BaseModel]) -> Any:
        return func(type_.model_validate_json(json_key))

    @wraps(func)
    def wrapper(model: BaseModel) -> Any:
        return cached(model.model_dump_json(), type(model))
    return wrapper
