"""The caikit task the MedCAT module implements (besides caikit's TokenClassificationTask)."""

from __future__ import annotations

from caikit.core import TaskBase, task

from medcat_den.caikit.data_model import EntityLinkingResult


@task(unary_parameters={"text": str}, unary_output_type=EntityLinkingResult)
class EntityLinkingTask(TaskBase):  # type: ignore[misc]
    """Find concept mentions in a text and link each to a concept (CUI) of the model's CDB.

    HTTP route: ``POST /api/v1/task/entity-linking`` with
    ``{"model_id": "den://NAME", "inputs": "text"}``.
    """
