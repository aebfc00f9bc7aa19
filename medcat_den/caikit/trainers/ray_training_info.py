"""``TrainingInfo`` of a ``MEDCAT_RAY`` job: the linker job fields plus Ray's view.

Extra fields: ``ray_status`` (PENDING, RUNNING, SUCCEEDED, STOPPED, FAILED) and
``checkpoint`` (the folder, on the node that ran the job, of the checkpoint written when
the job was stopped; ``resume_from=`` continues from it).
"""

from __future__ import annotations

import dataclasses

from medcat_den.caikit.trainers.training_info import LinkerTrainingInfo


@dataclasses.dataclass
class RayTrainingInfo(LinkerTrainingInfo):
    """Status of a Ray training job (see module docstring)."""

    ray_status: str = ""
    checkpoint: str | None = None
