"""0.6.0's injection flows: ``injected_den``, ``inject_into_medcat``, ``inject_save`` quirks,
``CATWrapper`` and ``python -m medcat_den --with-injection`` (real subprocesses)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from medcat.cat import CAT

from medcat_den.errors import InvalidSaveTargetError
from tests.compat.conftest import changed


def test_context_manager_and_direct_injection(den: Any, base_info: Any,
                                              monkeypatch: pytest.MonkeyPatch,
                                              isolated_env: Path) -> None:
    monkeypatch.chdir(isolated_env)
    from medcat_den.injection import inject_into_medcat, injected_den, uninject_into_medcat

    with injected_den():  # README 1.
        cat = CAT.load_model_pack(base_info.model_id)
    assert den.source_of(cat) == base_info.model_id
    inject_into_medcat()  # README 2.
    try:
        # a 0.6.0 id (the MedCAT model hash) loads the same model
        assert den.source_of(CAT.load_model_pack(base_info.medcat_model_id)) == \
            base_info.model_id
    finally:
        uninject_into_medcat()
    with pytest.raises(Exception):  # noqa: B017 - not injected any more: MedCAT's own error
        CAT.load_model_pack(base_info.model_id)


def test_injector_module_prefix_and_mapper(den: Any, base_info: Any, tiny_pack: Path) -> None:
    from medcat_den.injection.medcat_injector import (
        inject_into_medcat,
        injected_den,
        is_injected_for_save,
        uninject_into_medcat,
    )

    with injected_den(den_getter=lambda: den, model_name_mapper={"prod": base_info.model_id},
                      prefix="den:"):
        assert den.source_of(CAT.load_model_pack("den:prod")) == base_info.model_id
        assert den.source_of(CAT.load_model_pack(str(tiny_pack))) is None  # off disk
        assert not is_injected_for_save()
    inject_into_medcat(lambda: den, inject_save=True)
    inject_into_medcat(lambda: den)
    assert is_injected_for_save() is False  # the latest injection applies
    uninject_into_medcat()  # 0.6.0: undoes all of them
    assert not is_injected_for_save()
    from medcat_den.injection import current_injection

    assert current_injection() is None


def test_inject_save_quirks(den: Any, base_info: Any, isolated_env: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(isolated_env)
    from medcat_den.injection import injected_den

    with injected_den(inject_save=True):
        cat = changed(CAT.load_model_pack(base_info.model_id), 0.45)
        # 0.6.0: no pack name -> the target is the description (and the model's name)
        ref = cat.save_model_pack("a message")
        info = den.info(ref)
        assert info.description == "a message" and info.parents == [base_info.model_id]
        assert info.name == "tiny"  # not a valid name: the model keeps its den name
        assert not (isolated_env / "a message").exists()
        cat2 = changed(cat, 0.55)
        ref2 = cat2.save_model_pack("finetuned_v2")
        assert den.info(ref2).name == "finetuned_v2"
        assert den.info(ref2).description == "finetuned_v2"
        before = {m.model_id for m in den.list_available_models()}
        # 0.6.0 failed inside MedCAT with a TypeError; ours names the problem, pushes nothing
        with pytest.raises(InvalidSaveTargetError, match="target folder must be a path string"):
            cat2.save_model_pack(None, "x")
        with pytest.raises(TypeError):
            cat2.save_model_pack(None)
        assert {m.model_id for m in den.list_available_models()} == before


def test_cat_wrapper_refuses_disk_saves(den: Any, base_info: Any, isolated_env: Path) -> None:
    from medcat_den.base import ModelInfo
    from medcat_den.config import LocalDenConfig, RemoteDenConfig
    from medcat_den.wrappers import (
        CannotSaveOnDiskException,
        CannotWrapModel,
        CATWrapper,
        NotAllowedToFineTuneLocallyException,
    )

    with den.materialise(base_info) as pack:
        with pytest.raises(CannotWrapModel):
            CATWrapper.load_model_pack(pack)
        wrapped = CATWrapper.load_model_pack(
            pack, model_info=ModelInfo(model_id=base_info.model_id, model_card=None,
                                       base_model=None),
            den_cnf=LocalDenConfig(type="local_user", location=str(isolated_env)))
    assert isinstance(wrapped, CAT) and wrapped.cdb is not None
    with pytest.raises(CannotSaveOnDiskException, match="force_save_local=True"):
        wrapped.save_model_pack(str(isolated_env / "out"))
    (isolated_env / "out").mkdir()
    out = wrapped.save_model_pack(str(isolated_env / "out"), force_save_local=True,
                                  make_archive=False)
    assert Path(out).is_dir()
    wrapped._den_cnf = RemoteDenConfig(type="medcattery", host="h", allow_local_fine_tune=False,
                                       allow_push_fine_tuned=False)
    with pytest.raises(NotAllowedToFineTuneLocallyException):
        wrapped.trainer.train_supervised_raw({"projects": []})


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medcat_den", "--with-injection", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)


def test_runtime_injection_module_and_code_string(den: Any, base_info: Any,
                                                  isolated_env: Path) -> None:
    work = isolated_env / "work"
    (work / "mypkg").mkdir(parents=True)
    (work / "mypkg" / "__init__.py").write_text("")
    (work / "mypkg" / "job.py").write_text(textwrap.dedent("""
        import sys
        from medcat.cat import CAT
        from medcat_den.den import get_default_den
        cat = CAT.load_model_pack(sys.argv[1])
        print("LOADED", get_default_den().source_of(cat), sys.argv[2:])
    """))
    # README: python -m medcat_den --with-injection -m path.to.my_module arg1 arg2
    done = _run(["-m", "mypkg.job", base_info.medcat_model_id, "arg2"], work)
    assert done.returncode == 0, done.stderr
    assert f"LOADED {base_info.model_id} ['arg2']" in done.stdout
    # README: python -m medcat_den --with-injection python -c "..."
    code = ("from medcat.cat import CAT; from medcat_den.den import source_of; "
            f"print('CODE', source_of(CAT.load_model_pack('{base_info.model_id}')))")
    done = _run(["python", "-c", code], work)
    assert done.returncode == 0, done.stderr
    assert f"CODE {base_info.model_id}" in done.stdout


def test_run_with_injection_in_process(den: Any, base_info: Any, isolated_env: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from medcat_den.injection import run_with_injection

    monkeypatch.chdir(isolated_env)
    script = isolated_env / "script.py"
    out = isolated_env / "out.txt"
    script.write_text(textwrap.dedent(f"""
        import sys
        from medcat.cat import CAT
        from medcat_den.den import source_of
        open({str(out)!r}, "w").write(str(source_of(CAT.load_model_pack(sys.argv[1]))))
    """))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    run_with_injection(str(script), [base_info.model_id])
    assert out.read_text() == base_info.model_id
    with pytest.raises(ValueError, match="Unknown target"):
        run_with_injection("python", [])
