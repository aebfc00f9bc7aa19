"""``ModelInfo``: what ``list_available_models`` and ``push_model`` return."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelInfo(BaseModel):
    """A model in the den: its content id plus the names that point at it."""

    model_config = ConfigDict(frozen=True)

    model_id: str
    name: str | None = None
    version: int | None = None
    aliases: list[str] = Field(default_factory=list)
    description: str = ""
    medcat_model_id: str | None = None
    parents: list[str] = Field(default_factory=list)
    created_at: datetime
    size: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The most specific ref: ``den://NAME/VERSION`` when named, else the content id."""
        if self.name and self.version is not None:
            return f"den://{self.name}/{self.version}"
        return self.model_id
