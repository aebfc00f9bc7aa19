"""``medcat-den run ...`` and its alias ``python -m medcat_den --with-injection ...``.

In real subprocesses, against a real den.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from medcat_den.cli import main as cli_main
from medcat_den.cli.python_runner import Target, parse_target, run_target
from medcat_den.cli.run_cmd import parse_run_args
from medcat_den.cli.with_injection import main
from medcat_den.den import Den, ModelInfo, get_default_den
from tests.helpers.injection import PYTHON, report_from, subprocess_env

WRAPPER = [PYTHON, "-m", "medcat_den", "--with-injection"]  # the alias
RUN = [PYTHON, "-m", "medcat_den", "run"]
ENTRIES = {"alias": WRAPPER, "run": RUN, "run --": [*RUN, "--"]}

# what every target reports; with SKIP_LOAD=1 it does not touch MedCAT (plain-python baseline)
TARGET = textwrap.dedent("""\
    import json, logging, os, sys
    source = None
    if not os.environ.get("SKIP_LOAD"):
        from medcat.cat import CAT
        from medcat_den.den import source_of
        source = source_of(CAT.load_model_pack("tiny"))
    print("REPORT " + json.dumps({"argv": sys.argv, "path0": sys.path[0], "name": __name__,
                                  "source": source, "log_handlers": len(logging.root.handlers)}))
    sys.exit(int(sys.argv[1]))
    """)


@pytest.fixture()
def targets(work_dir: Path) -> Path:
    """``pkg/target.py`` (a module) and ``scripts/target.py`` (a script) under the cwd."""
    (work_dir / "pkg").mkdir()
    (work_dir / "pkg" / "__init__.py").write_text("")
    (work_dir / "pkg" / "target.py").write_text(TARGET)
    (work_dir / "scripts").mkdir()
    (work_dir / "scripts" / "target.py").write_text(TARGET)
    return work_dir


def run(args: list[str], cwd: Path, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, input=stdin, capture_output=True, text=True,
                          env=subprocess_env(env), timeout=120,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


FORMS = {
    "-m": ["-m", "pkg.target"],
    "python -m": ["python", "-m", "pkg.target"],
    "script": ["scripts/target.py"],
    "python script": ["python", "scripts/target.py"],
    "-c": ["-c", TARGET],
    "python -c": ["python", "-c", TARGET],
    "- (stdin)": ["-"],
}
# every form through the alias; through `run` the ways argparse sees a target start (an
# option taking the rest, a positional, "--"); run's script and -c forms: the den options test
CASES = [("alias", form) for form in FORMS] + [
    ("run", "-m"), ("run", "- (stdin)"), ("run --", "python -c"),
]


@pytest.mark.parametrize(("entry", "form"), CASES)
def test_target_forms_see_their_own_argv_and_exit_code(
    entry: str, form: str, targets: Path, tiny_in_den: ModelInfo
) -> None:
    target = FORMS[form]
    stdin = TARGET if target == ["-"] else None
    args = ["3", "--flag", "-x"]
    wrapped = run([*ENTRIES[entry], *target, *args], targets, stdin=stdin)
    assert wrapped.returncode == 3, wrapped.stderr
    got = report_from(wrapped.stdout)
    assert got["source"] == tiny_in_den.model_id  # "tiny" is no path here: it came from the den

    # the same target under plain python (without the wrapper or any model) is the reference
    plain_cmd = [PYTHON, *target[1:]] if target[0] == "python" else [PYTHON, *target]
    plain = run([*plain_cmd, *args], targets, stdin=stdin, env={"SKIP_LOAD": "1"})
    assert plain.returncode == 3, plain.stderr
    want = report_from(plain.stdout)
    assert got["argv"] == want["argv"]
    assert got["name"] == want["name"] == "__main__"
    assert got["path0"] == want["path0"]
    assert got["log_handlers"] == want["log_handlers"] == 0  # its basicConfig() would still work


@pytest.mark.parametrize("command", [[*WRAPPER, "python", "-i"], [*RUN, "-i"]],
                         ids=["alias python -i", "run -i"])
def test_python_i_reads_statements_from_a_pipe(
    command: list[str], targets: Path, tiny_in_den: ModelInfo
) -> None:
    stdin = textwrap.dedent("""\
        import json, sys
        from medcat.cat import CAT
        from medcat_den.den import source_of
        cat = CAT.load_model_pack("tiny")
        print("REPORT " + json.dumps({"argv": sys.argv, "source": source_of(cat)}))
        raise SystemExit(4)
        print("not reached")
        """)
    done = run(command, targets, stdin=stdin)
    assert done.returncode == 4, done.stderr
    got = report_from(done.stdout)
    assert got == {"argv": [""], "source": tiny_in_den.model_id}
    assert ">>> " in done.stderr and ">>>" not in done.stdout  # prompts go to stderr, as Python's
    assert "not reached" not in done.stdout


def test_python_i_with_script_keeps_its_globals_for_the_prompt(
    targets: Path, tiny_in_den: ModelInfo
) -> None:
    (targets / "scripts" / "setup_model.py").write_text(textwrap.dedent("""\
        import sys
        from medcat.cat import CAT
        loaded = CAT.load_model_pack("tiny")
        """))
    stdin = ('import json; from medcat_den.den import source_of; '
             'print("REPORT " + json.dumps({"argv": sys.argv, "source": source_of(loaded)}))\n')
    done = run([*WRAPPER, "python", "-i", "scripts/setup_model.py", "a", "b"], targets,
               stdin=stdin)
    assert done.returncode == 0, done.stderr
    got = report_from(done.stdout)
    assert got == {"argv": ["scripts/setup_model.py", "a", "b"], "source": tiny_in_den.model_id}


@pytest.mark.parametrize(("command", "prog"), [(WRAPPER, "python -m medcat_den --with-injection"),
                                              (RUN, "medcat-den run")], ids=["alias", "run"])
def test_no_target_prints_usage_and_exits_2(command: list[str], prog: str, work_dir: Path) -> None:
    done = run(command, work_dir)
    assert done.returncode == 2
    assert done.stderr.startswith(f"usage: {prog}")
    assert f"{prog}: error: no target given" in done.stderr


def test_target_errors_keep_python_exit_codes_and_tracebacks(work_dir: Path) -> None:
    boom = run([*WRAPPER, "-c", "def f():\n    raise ValueError('boom')\nf()"], work_dir)
    assert boom.returncode == 1
    assert "ValueError: boom" in boom.stderr
    assert 'File "<string>", line 2, in f' in boom.stderr
    assert "runner.py" not in boom.stderr  # the wrapper's frames are not shown


def test_missing_module_or_script_exit_like_python(
    work_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert run_target(Target("module", "no_such_pkg.mod", ["x"])) == 1
    assert "No module named no_such_pkg.mod" in capsys.readouterr().err
    assert run_target(Target("script", "missing.py")) == 2
    assert "can't open file" in capsys.readouterr().err


def test_plain_python_runs_the_program_read_from_stdin(
    work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "stdin", io.StringIO(
        "import sys\nraise SystemExit(41 if sys.argv == [''] and __name__ == '__main__' else 1)\n"))
    target = parse_target(["python"])
    assert target.kind == "stdin"
    assert run_target(target) == 41


def test_options_reach_child_processes_through_the_environment(
    targets: Path, den: Den, tiny_in_den: ModelInfo
) -> None:
    (targets / "names.json").write_text('{"prod-ner": "den://tiny@latest"}')
    child_code = textwrap.dedent("""\
        import json, os, sys
        from medcat.cat import CAT
        from medcat_den.den import source_of
        cat = CAT.load_model_pack("den:prod-ner")
        cat.config.components.linking.similarity_threshold = 0.6
        saved = cat.save_model_pack("den:", pack_name="from-child")
        env = {k: v for k, v in os.environ.items() if k.startswith("MEDCAT_DEN_INJECT_")}
        print("REPORT " + json.dumps({"argv": sys.argv, "source": source_of(cat),
                                      "saved": saved, "env": env}))
        """)
    (targets / "scripts" / "parent.py").write_text(textwrap.dedent(f"""\
        import subprocess, sys
        child = [sys.executable, "-m", "medcat_den", "--with-injection", "-c", {child_code!r},
                 "child-arg"]
        sys.exit(subprocess.run(child).returncode)
        """))
    done = run([*WRAPPER, "--prefix", "den:", "--mapper", "names.json", "--inject-save",
                "scripts/parent.py"], targets)
    assert done.returncode == 0, done.stderr
    got = report_from(done.stdout)
    assert got["argv"] == ["-c", "child-arg"]
    assert got["source"] == tiny_in_den.model_id
    assert got["saved"] == "den:den://from-child/1"
    assert got["env"] == {"MEDCAT_DEN_INJECT_PREFIX": "den:",
                          "MEDCAT_DEN_INJECT_MAPPER": str(targets / "names.json"),
                          "MEDCAT_DEN_INJECT_SAVE": "1"}
    assert den.info("den://from-child").parents == [tiny_in_den.model_id]


def test_run_uses_the_den_options_and_passes_them_to_children(
    targets: Path, tiny_in_den: ModelInfo, tiny_pack_b: Path
) -> None:
    other = targets / "other-den"
    in_other = get_default_den(path=str(other)).push_model(str(tiny_pack_b), "b", name="tiny")
    assert in_other.model_id != tiny_in_den.model_id  # $MEDCAT_DEN_PATH's den has another "tiny"
    child_code = textwrap.dedent("""\
        import json, os
        from medcat.cat import CAT
        from medcat_den.den import source_of
        print("REPORT " + json.dumps({"source": source_of(CAT.load_model_pack("tiny")),
                                      "den_path": os.environ["MEDCAT_DEN_PATH"]}))
        """)
    (targets / "scripts" / "parent.py").write_text(textwrap.dedent(f"""\
        import subprocess, sys
        from medcat.cat import CAT
        from medcat_den.den import source_of
        print("PARENT", source_of(CAT.load_model_pack("tiny")), flush=True)
        child = [sys.executable, "-m", "medcat_den", "run", "-c", {child_code!r}]
        sys.exit(subprocess.run(child).returncode)
        """))
    done = run([PYTHON, "-m", "medcat_den", "--den-path", "other-den", "run", "scripts/parent.py"],
               targets)
    assert done.returncode == 0, done.stderr
    assert f"PARENT {in_other.model_id}" in done.stdout
    assert report_from(done.stdout) == {"source": in_other.model_id, "den_path": str(other)}


def test_bad_wrapper_usage_is_refused_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--with-injection"]) == 2
    assert main(["--with-injection", "--bogus", "x.py"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert main(["--with-injection", "--prefix"]) == 2
    assert "--prefix: expected one argument" in capsys.readouterr().err
    assert main(["--with-injection", "python", "-X", "dev", "x.py"]) == 2
    assert "unsupported option '-X'" in capsys.readouterr().err
    assert main(["--with-injection", "-m"]) == 2
    assert "-m needs a module name" in capsys.readouterr().err
    assert main(["--with-injection", "-h"]) == 0
    assert "-i [script.py" in capsys.readouterr().out


def test_bad_run_usage_is_refused_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["run"]) == 2
    assert "medcat-den run: error: no target given" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["run", "--bogus", "x.py"])
    assert exc.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert cli_main.main(["run", "python", "-X", "dev", "x.py"]) == 2
    assert "unsupported option '-X'" in capsys.readouterr().err
    assert cli_main.main(["run", "-c"]) == 2
    assert "-c needs the code to run" in capsys.readouterr().err


def test_argument_parsing_separates_wrapper_options_from_target() -> None:
    p = parse_run_args(["--prefix=den:", "--inject-save", "-m", "pkg.mod", "--prefix", "theirs"])
    assert p.prefix == "den:" and p.inject_save is True
    assert p.target.kind == "module"
    assert p.target.what == "pkg.mod" and p.target.args == ["--prefix", "theirs"]
    p = parse_run_args(["--prefix", "p:", "--", "-m", "pkg.mod", "a"])
    assert p.prefix == "p:" and p.target.kind == "module"
    assert p.target.argv == ["pkg.mod", "a"]  # runpy then puts the module's file in argv[0]
    p = parse_run_args(["scripts/run.py", "--inject-save"])
    assert p.inject_save is not True  # options after the target belong to the target
    assert p.target.argv == ["scripts/run.py", "--inject-save"]
    p = parse_run_args(["--no-inject-save", "--mapper", "", "--", "run.py", "--", "x"])
    assert p.inject_save is False and p.mapper is None
    assert p.target.argv == ["run.py", "--", "x"]  # only the first "--" is the wrapper's
    p = parse_run_args(["python3", "-u", "-i", "s.py", "-i"])
    assert p.target.interactive and p.target.flags == {"-u", "-i"}
    assert p.target.argv == ["s.py", "-i"]
    p = parse_run_args(["-i"])
    assert p.target.kind == "repl" and p.target.argv == [""]
    p = parse_run_args(["-i", "-m", "pkg.mod", "-i"])
    assert p.target.interactive and p.target.kind == "module" and p.target.args == ["-i"]
    p = parse_run_args(["-", "a"])
    assert p.target.kind == "stdin" and p.target.argv == ["-", "a"]
    p = parse_run_args([PYTHON, "-c", "pass", "x"])
    assert p.target.argv == ["-c", "x"]
    p = parse_run_args(["-c", "pass", "--den-path", "x"])
    assert p.target.argv == ["-c", "--den-path", "x"]
