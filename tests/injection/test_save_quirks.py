"""``inject_save`` routing of medcat-den 0.6.0's save calls (pure functions, no MedCAT)."""

from __future__ import annotations

import pytest

from medcat_den.errors import InvalidSaveTargetError
from medcat_den.injection.options import InjectionOptions
from medcat_den.injection.routing import DEFAULT_PACK_NAME, SaveTarget, save_target

PLAIN = InjectionOptions(inject_save=True)
PREFIXED = InjectionOptions(prefix="den:", inject_save=True)


def test_default_pack_name_matches_medcat() -> None:
    from medcat.utils.defaults import DEFAULT_PACK_NAME as MEDCATS

    assert DEFAULT_PACK_NAME == MEDCATS


def test_message_as_target_is_the_description_and_names_nothing() -> None:
    assert save_target("a message", None, None, PLAIN) == SaveTarget(None, "a message")
    assert save_target("a message", DEFAULT_PACK_NAME, None, PLAIN) == SaveTarget(None,
                                                                                "a message")


def test_folder_names_the_model_without_pack_name() -> None:
    assert save_target("out/ner_v2", None, None, PLAIN) == SaveTarget("ner_v2", "out/ner_v2")
    assert save_target("out/ner_v2", None, "tuned", PLAIN) == SaveTarget("ner_v2", "tuned")
    assert save_target("den:ner", None, None, PREFIXED) == SaveTarget("ner", "den:ner")
    assert save_target("/models/ner", None, None, PREFIXED) is None  # to disk


def test_pack_name_names_the_model_and_is_the_fallback_description() -> None:
    assert save_target("/x", "tuned", None, PLAIN) == SaveTarget("tuned", "tuned")
    assert save_target("/x", "tuned", "why", PLAIN) == SaveTarget("tuned", "why")
    assert save_target("den:", "tuned", None, PREFIXED) == SaveTarget("tuned", "tuned")


@pytest.mark.parametrize("bad", [None, 3, b"bytes"])
def test_non_path_targets_are_refused(bad: object) -> None:
    with pytest.raises(InvalidSaveTargetError, match="must be a path string"):
        save_target(bad, None, None, PLAIN)
    assert issubclass(InvalidSaveTargetError, TypeError)


def test_non_string_pack_name_or_description_is_refused() -> None:
    with pytest.raises(InvalidSaveTargetError, match="pack_name"):
        save_target("/x", 5, None, PLAIN)
    with pytest.raises(InvalidSaveTargetError, match="change_description"):
        save_target("/x", "p", 5, PLAIN)
