"""medcat-den 0.6.0's ``medcat_den.wrappers``: ``CATWrapper`` and its exceptions.

Config: none. Our ``Den.fetch_model`` returns a plain ``CAT`` (the den's policies guard
what a remote den's model may do); ``CATWrapper`` is here for 0.6.0 code that builds one
itself: it refuses ``save_model_pack`` to disk unless ``force_save_local=True`` or the
den is injected for saving, and its ``trainer`` refuses local fine-tuning of a remote
den's model unless its ``RemoteDenConfig`` allows it.
"""

from __future__ import annotations

from typing import Any

from medcat.cat import CAT
from medcat.components.addons.addons import AddonComponent
from medcat.data.mctexport import MedCATTrainerExport
from medcat.storage.serialisers import AvailableSerialisers
from medcat.trainer import Trainer
from medcat.utils.defaults import DEFAULT_PACK_NAME

import medcat_den.compat  # noqa: F401  (registers finetune_model / evaluate_model)
from medcat_den.base import ModelInfo
from medcat_den.config import DenConfig, RemoteDenConfig
from medcat_den.errors import (
    CannotSaveOnDiskException,
    CannotSendToRemoteException,
    CannotWrapModel,
    NotAllowedToFineTuneLocallyException,
)

__all__ = ["CATWrapper", "CannotSaveOnDiskException", "CannotSendToRemoteException",
           "CannotWrapModel", "NotAllowedToFineTuneLocallyException", "WrappedTrainer"]


def _injected_for_save() -> bool:
    from medcat_den.injection.medcat_injector import is_injected_for_save

    return is_injected_for_save()


class CATWrapper(CAT):
    """A CAT that is not saved to disk unless asked to (``force_save_local=True``)."""

    _model_info: ModelInfo
    _den_cnf: DenConfig

    def __init__(self, cat: CAT) -> None:  # noqa: D107 - no CAT.__init__: a delegate
        self._delegate = cat

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._delegate, attr)

    def save_model_pack(
            self, target_folder: str, pack_name: str = DEFAULT_PACK_NAME,
            serialiser_type: str | AvailableSerialisers = 'dill',
            make_archive: bool = True,
            only_archive: bool = False,
            add_hash_to_pack_name: bool = True,
            change_description: str | None = None,
            force_save_local: bool = False,
            ) -> str:
        """``CAT.save_model_pack``; CannotSaveOnDiskException without ``force_save_local``."""
        injected = _injected_for_save()
        if not force_save_local and not injected:
            raise CannotSaveOnDiskException(
                f"Cannot save model on disk: {CATWrapper.__doc__} "
                "(pass force_save_local=True)")
        cnf = getattr(self, "_den_cnf", None)
        if injected and isinstance(cnf, RemoteDenConfig) and not cnf.allow_push_fine_tuned:
            raise CannotSendToRemoteException(
                "Cannot save fine-tuned model onto a remote den: use Den.finetune_model or "
                "set allow_push_fine_tuned=True")
        out: str = self._delegate.save_model_pack(
            target_folder, pack_name, serialiser_type, make_archive, only_archive,
            add_hash_to_pack_name, change_description)
        return out

    @property
    def trainer(self) -> Trainer:
        return WrappedTrainer(self._den_cnf, self._delegate.trainer)

    @classmethod
    def load_model_pack(cls, model_pack_path: str,
                        config_dict: dict[str, Any] | None = None,
                        addon_config_dict: dict[str, dict[str, Any]] | None = None,
                        keep_addons_of_types: list[type[AddonComponent]] | None = None,
                        model_info: ModelInfo | None = None,
                        den_cnf: DenConfig | None = None,
                        ) -> CAT:
        """Load a pack from disk and wrap it; CannotWrapModel without model info / den config."""
        if model_info is None:
            raise CannotWrapModel("Model info must be provided")
        if den_cnf is None:
            raise CannotWrapModel("den_cnf must be provided")
        _cat = CAT.load_model_pack(model_pack_path, config_dict, addon_config_dict,
                                   keep_addons_of_types=keep_addons_of_types)
        cat = cls(_cat)
        cat._model_info = model_info
        cat._den_cnf = den_cnf
        return cat


class WrappedTrainer(Trainer):
    """MedCAT's Trainer that refuses supervised training of a remote den's model if not allowed."""

    def __init__(self, den_cnf: DenConfig, delegate: Trainer) -> None:
        super().__init__(delegate.cdb, delegate._pipeline)
        self._den_cnf = den_cnf

    def train_supervised_raw(
            self, data: MedCATTrainerExport, reset_cui_count: bool = False,
            nepochs: int = 1, print_stats: int = 0, use_filters: bool = False,
            terminate_last: bool = False, use_overlaps: bool = False,
            use_cui_doc_limit: bool = False, test_size: float = 0,
            devalue_others: bool = False, use_groups: bool = False,
            never_terminate: bool = False,
            train_from_false_positives: bool = False,
            extra_cui_filter: set[str] | None = None,
            disable_progress: bool = False, train_addons: bool = False) -> Any:
        if isinstance(self._den_cnf, RemoteDenConfig) and not self._den_cnf.allow_local_fine_tune:
            raise NotAllowedToFineTuneLocallyException(
                "You are not allowed to fine-tune remote models locally: use "
                "Den.finetune_model, or set allow_local_fine_tune=True")
        return super().train_supervised_raw(
            data, reset_cui_count, nepochs, print_stats, use_filters, terminate_last,
            use_overlaps, use_cui_doc_limit, test_size, devalue_others, use_groups,
            never_terminate, train_from_false_positives, extra_cui_filter, disable_progress,
            train_addons)
