"""caikit plugin: the den as a ModelFinder, MedCAT loading as a ModelInitializer, a MedCAT module.

Importing this package registers, with caikit's factories:

* ``MEDCAT_DEN`` finder (:class:`DenModelFinder`): ``den://NAME[@ALIAS|/VERSION]`` and content ids;
* ``MEDCAT`` initializer (:class:`MedCATModelInitializer`);
* the ``MedCAT`` module (:class:`MedCATModule`, tasks ``EntityLinkingTask`` and caikit's
  ``TokenClassificationTask``).

YAML configs may instead name ``import_class: medcat_den.caikit.DenModelFinder`` (or
``...MedCATModelInitializer``), which needs no prior import. Example::

    import caikit, medcat_den.caikit
    from medcat_den.caikit.server import configure_caikit
    configure_caikit(runtime=False)      # medcat_den/caikit/config/medcat_den.yml
    model = caikit.load("den://ncbi-linker@production")
    model.run("Patient with type 2 diabetes")
"""

from caikit.core.model_management import model_finder_factory, model_initializer_factory

from medcat_den.caikit.data_model import EntityLinkingResult, LinkedEntity, MetaAnnotation
from medcat_den.caikit.den_model_finder import DenModelFinder
from medcat_den.caikit.medcat_model_initializer import MedCATModelInitializer
from medcat_den.caikit.module import MODULE_ID, MedCATModule
from medcat_den.caikit.tasks import EntityLinkingTask

model_finder_factory.register(DenModelFinder)
model_initializer_factory.register(MedCATModelInitializer)

# trainers register themselves (MEDCAT_EMBEDDING_LINKER, MEDCAT_RAY: Ray itself is imported lazily)
import medcat_den.caikit.trainers  # noqa: E402,F401
import medcat_den.caikit.trainers.ray_trainer  # noqa: E402,F401

__all__ = [
    "MODULE_ID",
    "DenModelFinder",
    "EntityLinkingResult",
    "EntityLinkingTask",
    "LinkedEntity",
    "MedCATModelInitializer",
    "MedCATModule",
    "MetaAnnotation",
]
