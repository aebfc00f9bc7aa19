"""medcat-den 0.6.0's ``ModelInfo`` (``model_id``, ``model_card``, ``base_model``) over ours.

Config: none. A :class:`LegacyModelInfo` is one of our
:class:`~medcat_den.den.model_info.ModelInfo` (so every den method takes it) with
0.6.0's two extra fields. Built by hand (``LegacyModelInfo(model_id=X, model_card=None,
base_model=None)``) it is a placeholder: ``model_id`` may then be a content id, a den
name / ref or a MedCAT model hash (0.6.0's ids), and the den looks it up.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from medcat_den.den.model_info import ModelInfo
from medcat_den.den.provenance import source_of

# placeholder infos (built by 0.6.0 code) have no creation time
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# what 0.6.0 fills into model cards of older MedCAT versions (its ModelInfo.make_permissive)
CARD_DEFAULTS: dict[str, Any] = {
    "Pipeline Description": {"core": {}, "addons": []},
    "Required Plugins": [],
    "Location": "N/A",
    "Basic CDB Stats": {"Unsupervised training history": [], "Supervised training history": []},
    "Source Ontology": ["unknown"],
}


def _fill(card: dict[str, Any], defaults: dict[str, Any]) -> None:
    for key, default in defaults.items():
        value = card.get(key)
        if value is None or type(value) is not type(default):
            card[key] = json_copy(default)
        elif isinstance(default, dict):
            _fill(value, default)


def json_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


class LegacyModelInfo(ModelInfo):
    """Our ModelInfo plus 0.6.0's ``model_card`` (the MedCAT model card) and ``base_model``."""

    model_config = ConfigDict(frozen=False)

    created_at: datetime = Field(default=EPOCH)
    model_card: dict[str, Any] | None = None
    base_model: LegacyModelInfo | None = None

    @field_validator("model_card", mode="before")
    @classmethod
    def make_permissive(cls, v: Any) -> Any:
        """Accept model cards of older MedCAT versions (missing keys get 0.6.0's defaults)."""
        if isinstance(v, dict):
            card = {**v}
            _fill(card, CARD_DEFAULTS)
            return card
        return v

    @classmethod
    def from_model_pack(cls, cat: Any) -> LegacyModelInfo:
        """The info of a loaded CAT: its den content id if it came from a den, else its hash."""
        card = cat.get_model_card(True)
        history = list(card.get("History (from least to most recent)") or [])
        medcat_id = str(card.get("Model ID") or "")
        base = (cls(model_id=history[0], medcat_model_id=history[0])
                if history and history[0] != medcat_id else None)
        return cls(model_id=source_of(cat) or medcat_id, medcat_model_id=medcat_id or None,
                   description=str(card.get("Description") or ""), model_card=dict(card),
                   base_model=base)

    @classmethod
    def from_info(cls, info: ModelInfo, model_card: dict[str, Any] | None = None,
                  base_model: LegacyModelInfo | None = None) -> LegacyModelInfo:
        """``info`` with 0.6.0's fields added."""
        if isinstance(info, LegacyModelInfo) and model_card is None and base_model is None:
            return info
        return cls(**{**info.model_dump(exclude={"model_card", "base_model"}),
                      "model_card": model_card, "base_model": base_model})
