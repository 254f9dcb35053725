"""Property-based robustness (issue 9 §2): every step registered in cli.STEPS (iterated, so steps
added later are covered), driven with generated hostile values for every one of its flags (read
from its argparse parser) and with hand-broken plan files, never prints a traceback and never
exits outside 0-3 (argparse's own exit 2 included).

Offline and sandboxed: a recorded scenario answers every statement (SPCS_LLM_REPLAY_DIR), logins
are refused, no socket may connect, no subprocess may start, HF_ENDPOINT points at a closed local
port, HOME and the working directory are a temp folder, and generated paths stay relative to it.
Steps that serve forever (a bound listening socket) are parsed but not run. Sleeping (status
--wait and the like) interrupts the run, which counts as a clean exit. derandomize keeps CI
reproducible; max_examples keeps the file well under a minute."""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import io
import shutil
import socket
import subprocess
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snowflake_testkit import RECORDED, forbid_login

from spcs_llm import catalog, cli, plan_file, redact

SERVES = {"proxy", "gateway"}  # bind a port and serve until stopped: parsed only
EXAMPLES = 30

HOSTILE = ["", " ", "nan", "inf", "-inf", "-1", "0", "1e309", "99999999999999999999", "0.0001", "-",
           "a;b", "x'; DROP TABLE t; --", 'q"q', "../up", "nested/dir/x", "/nonexistent/dir/x",
           "/proc/none/x", "é中文", "A" * 300, "GPU_NV_S", "Qwen/Qwen2.5-7B-Instruct", "LLM_DB.SERVING.LLM_SVC",
           "true", "none", "$(id)", "%s%n", "http://127.0.0.1:9/x", "1,2,,3"]


def _safe_text(text: str) -> bool:
    """Generated text must not name a real absolute location (the fuzz may run as root)."""
    return not text.startswith(("/", "~", "\\")) and ".." not in text and "\x00" not in text


MODELS = ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "meta-llama/Llama-3.1-8B-Instruct",
          "nobody/none", "config.json"]
VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12).filter(_safe_text))


@functools.cache
def _plan() -> dict:
    """A real plan (plan, select, workers), completed with the aws_ready scenario's objects."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/deployment.yaml"
        for argv in (["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--max-model-len", "8192", "--out", path],
                     ["select", "--family", "GPU_NV_M", "--plan", path],
                     ["workers", "--engine", "registry", "--confirm", "--plan", path]):
            code, output = _run(argv)
            assert code == 0, (argv, output)
        plan = plan_file.load(path)
    plan["snowflake"] = {"database": "LLM_DB", "schema": "SERVING", "compute_pool": "LLM_POOL",
                         "service_name": "LLM_SVC", "role": "ML_DEPLOYER", "warehouse": "ML_WH"}
    return plan


@functools.cache
def _broken_plans() -> list:
    """(name, text of deployment.yaml or None for no file)."""
    good = _plan()

    def edited(edit) -> str:
        plan = yaml.safe_load(yaml.safe_dump(good))
        edit(plan)
        return yaml.safe_dump(plan)

    return [
        ("good", yaml.safe_dump(good)),
        ("missing", None),
        ("not yaml", "model: [unclosed\n  - {"),
        ("a list", "- 1\n- 2\n"),
        ("candidates are names", edited(lambda p: p.update(candidates=["GPU_NV_S"]))),
        ("candidate without tp", edited(lambda p: p["candidates"][0].pop("tensor_parallel_size"))),
        ("candidate without sizes", edited(lambda p: p.update(candidates=[
            {"instance_family": "GPU_NV_M", "fits": True, "tensor_parallel_size": 1}]))),
        ("history junk", edited(lambda p: p.update(history=["a", 1]))),
        ("live families junk", edited(lambda p: p["snowflake"].update(live_families=["GPU_NV_S", 3]))),
        ("bad identifiers", edited(lambda p: p["snowflake"].update(database="a b;", service_name="x'y"))),
        ("wrong types", edited(lambda p: p["selection"].update(gpu_count="four", max_model_len=-5))),
        ("nan", edited(lambda p: p["selection"].update(gpu_memory_utilization=float("nan")))),
        ("no selection", edited(lambda p: p.pop("selection"))),
        ("zero workers", edited(lambda p: p["workers"].update(max_instances=0, min_instances=5))),
        ("unknown model", edited(lambda p: p["model"].update(id="nobody/none"))),
        ("connection", edited(lambda p: p["snowflake"].update(connection="elsewhere"))),
    ]



def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The step's own flags (the output format is chosen separately: --json and --format exclude each other)."""
    return [a for a in parser._actions if a.dest not in ("help", "version", "debug", "format")]


def _arguments(parser: argparse.ArgumentParser):
    """A strategy for an argv: any subset of the parser's options, each with a hostile value."""
    parts = []
    for action in _options(parser):
        flag = action.option_strings[0] if action.option_strings else None
        if action.nargs == 0:  # store_true / store_const
            value = st.just([flag])
        elif action.choices:
            choice = st.sampled_from([str(c) for c in action.choices]) | VALUES
            value = choice.map(lambda v, f=flag: [f, v] if f else [v])
        elif action.nargs in ("+", "*"):
            value = st.lists(_typed(action), min_size=1, max_size=3).map(lambda vs, f=flag: ([f] if f else []) + vs)
        else:
            value = _typed(action).map(lambda v, f=flag: [f, v] if f else [v])
        if flag is None or action.required:
            parts.append(value)  # positionals and required options are always given
        else:  # most options stay at their default, so that runs get past the parser into the step
            parts.append(st.one_of(st.just([]), st.just([]), st.just([]), value))
    parts.append(st.sampled_from([[], ["--json"], ["--format", "prompt"]]))
    return st.tuples(*parts).map(lambda groups: [arg for group in groups for arg in group])


def _typed(action: argparse.Action):
    """Values of the option's own type (edge values included) or hostile text, half and half."""
    if "--model" in action.option_strings:
        return st.one_of(st.sampled_from(MODELS), VALUES)
    if "--gpu" in action.option_strings:
        return st.one_of(st.sampled_from(sorted(catalog.gpus())), VALUES)
    if action.type is int:
        typed = st.one_of(st.integers(-3, 3), st.integers(-10**6, 10**12), st.sampled_from([256, 8192, 2**31]))
    elif action.type is float:
        typed = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, 0.5, 0.9, 1.0, 1.5, -0.1])
    else:
        return VALUES
    return st.one_of(typed.map(str), typed.map(str), VALUES)


def _no_network(*_args, **_kwargs):
    raise ConnectionRefusedError(111, "fuzz test: no network")


def _no_subprocess(*args, **_kwargs):
    raise FileNotFoundError(2, "fuzz test: no subprocesses", str(args[0][0] if args and args[0] else "?"))


class _Slept(KeyboardInterrupt):
    """A step started to wait: stop it there (cli.main turns it into exit 130)."""


def _no_sleep(_seconds):
    raise _Slept()


@pytest.fixture
def sandbox(monkeypatch, tmp_path):
    forbid_login(monkeypatch)
    replay_dir = tmp_path / "replay"
    shutil.copytree(RECORDED / "aws_ready", replay_dir)
    for var, value in {"SPCS_LLM_REPLAY_DIR": str(replay_dir), "HF_ENDPOINT": "http://127.0.0.1:9",
                       "HOME": str(tmp_path / "home"), "SNOWFLAKE_HOME": str(tmp_path / "snowflake-home"),
                       "SPCS_LLM_STATEMENT_LOG": str(tmp_path / "statements.log"),
                       "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(var, value)
    for var in ("SPCS_LLM_RECORD_DIR", "SNOWFLAKE_PAT", "SNOWFLAKE_DEFAULT_CONNECTION_NAME",
                "SNOWFLAKE_CONNECTION_NAME", "SNOWFLAKE_CONNECTIONS", "SPCS_LLM_DEBUG", "HF_TOKEN", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "home").mkdir()
    (tmp_path / "snowflake-home").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    monkeypatch.setattr(subprocess, "Popen", _no_subprocess)
    monkeypatch.setattr(time, "sleep", _no_sleep)
    # hostile --pat-file/--pat-env values register files and variables as secrets: keep that here
    monkeypatch.setattr(redact, "_registered", set())
    return work


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exit_info:  # argparse: --help (0) or a usage error (2)
            code = exit_info.code if isinstance(exit_info.code, int) else 2
    return code, out.getvalue() + err.getvalue()


def _check(step: str, argv: list[str], plan_name: str, code: int, output: str) -> None:
    where = f"spcs-llm {step} {' '.join(argv)}  [plan: {plan_name}]"
    assert "Traceback (most recent call last)" not in output, f"{where}\n{output[-3000:]}"
    # cli.py turns a bug into one line "<step>: unexpected <Error>": still a bug, only better dressed
    assert f"{step}: unexpected " not in output, f"{where}\n{output[-2000:]}"
    assert code in (0, 1, 2, 3, 130), f"{where}: exit {code}\n{output[-2000:]}"


def _parser(step: str) -> argparse.ArgumentParser:
    module = importlib.import_module(cli.STEPS[step][0])
    return cli.build_parser(step, module)


@pytest.mark.parametrize("step", list(cli.STEPS))
def test_every_step_survives_hostile_flags_and_broken_plans(step, sandbox):
    parser = _parser(step)  # an import or parser error in a new step fails here, by name

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(argv=_arguments(parser), plan=st.one_of(st.just(_broken_plans()[0]), st.sampled_from(_broken_plans())))
    def drive(argv, plan):
        name, text = plan
        target = sandbox / plan_file.DEFAULT_PLAN_PATH
        if text is None:
            target.unlink(missing_ok=True)
        else:
            target.write_text(text)
        if step in SERVES:
            try:
                with contextlib.redirect_stderr(io.StringIO()):
                    parser.parse_args(argv)
            except SystemExit as exit_info:
                assert exit_info.code in (0, 2)
            return
        code, output = _run([step, *argv])
        _check(step, argv, name, code, output)

    drive()
