"""caikit data model objects returned by the MedCAT module's tasks."""

# No `from __future__ import annotations`: caikit reads the field types at class creation.
from typing import List  # noqa: UP035 (caikit 0.29 reads typing.List)

from caikit.core.data_model import DataObjectBase, dataobject

PACKAGE = "caikit_data_model.medcat_den"


@dataobject(package=PACKAGE)
class MetaAnnotation(DataObjectBase):  # type: ignore[misc]
    """One MetaCAT annotation of an entity (e.g. Presence=True)."""

    name: str
    value: str
    confidence: float


@dataobject(package=PACKAGE)
class LinkedEntity(DataObjectBase):  # type: ignore[misc]
    """A span of the input linked to a concept of the model's CDB."""

    start: int
    end: int
    text: str
    cui: str
    pretty_name: str
    type_ids: List[str]  # noqa: UP006
    score: float
    accuracy: float
    detected_name: str
    meta_annotations: List[MetaAnnotation]  # noqa: UP006


@dataobject(package=PACKAGE)
class EntityLinkingResult(DataObjectBase):  # type: ignore[misc]
    """All entities MedCAT found in one text, in text order."""

    entities: List[LinkedEntity]  # noqa: UP006
    model_id: str
