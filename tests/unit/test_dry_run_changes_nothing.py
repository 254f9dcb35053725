"""--dry-run changes nothing: for every step (and every action of a step) that takes --dry-run, a
dry run against a deployed plan leaves the plan file byte for byte as it was and writes no file
but the statement log. A new step or action must be added to DRY_RUNS (the coverage test says so)."""

from __future__ import annotations

import argparse
import importlib
import io

import pytest
from snowflake_testkit import prepare_offline, use_scenarios

from spcs_llm import cli, plan_file

# step -> action (None: no actions) -> extra flags the dry run needs
DRY_RUNS: dict[str, dict[str | None, list[str]]] = {
    "preflight": {None: []},
    "pools": {None: []},
    "create-pool": {None: []},
    "service-check": {None: []},
    "deploy-registry": {None: ["--execute"]},
    "render-custom": {None: ["--part", "setup", "--consumer-role", "ANALYST"]},
    "image": {"build": [], "push": []},
    "status": {None: []},
    "logs": {None: []},
    "events": {None: []},
    "metrics": {None: []},
    "diagnose": {None: []},
    "manage": {"suspend": [], "resume": [], "scale": ["--min-instances", "1", "--max-instances", "2"],
               "auto-suspend": ["--secs", "600"], "upgrade": []},
    "teardown": {None: []},
    "cost": {None: []},
    "access": {"check": [], "caller": [], "network": ["--cidr", "203.0.113.10/32"], "grant": [], "token": [],
               "save-token": ["--pat-file", "token.txt"]},
    "endpoint": {"url": [], "test": ["--model", "QWEN"], "bench": ["--model", "QWEN"]},
    "install-skills": {None: ["--agent", "claude"]},
}
STATEMENT_LOG_DIR = ".spcs-llm"


def _actions(step: str) -> tuple[bool, list[str | None]]:
    parser = cli.build_parser(step, importlib.import_module(cli.STEPS[step][0]))
    options = {opt for action in parser._actions for opt in action.option_strings}
    for action in parser._actions:
        if action.dest == "action" and action.choices and not action.option_strings:  # positional
            return "--dry-run" in options, list(action.choices)
        if isinstance(action, argparse._SubParsersAction):
            return True, list(action.choices)
    return "--dry-run" in options, [None]


def test_every_dry_run_step_and_action_is_covered():
    missing = []
    for step in cli.STEPS:
        has_dry_run, actions = _actions(step)
        if has_dry_run:
            missing += [f"{step} {a or ''}".strip() for a in actions if a not in DRY_RUNS.get(step, {})]
    assert missing == [], f"add these to DRY_RUNS: {missing}"


@pytest.fixture(scope="module")
def deployed_plan(tmp_path_factory):
    """A plan as the registry path leaves it: model, hardware, workers and the Snowflake names."""
    import contextlib
    import io

    work = tmp_path_factory.mktemp("dry_run_plan")
    path = work / "deployment.yaml"
    for argv in (["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--region", "us-west-2"],
                 ["select", "--family", "GPU_NV_S"], ["workers", "--engine", "registry", "--confirm"]):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.chdir(work):
            assert cli.main(argv) == 0, argv
    plan = plan_file.load(path)
    plan_file.update(plan, "test", {"snowflake.database": "LLM_DB", "snowflake.schema": "SERVING",
                                    "snowflake.compute_pool": "LLM_POOL", "snowflake.service_name": "LLM_SVC",
                                    "snowflake.role": "ML_DEPLOYER"})
    plan_file.save(plan, path)
    return path.read_bytes()


@pytest.mark.parametrize(("step", "action"), [(s, a) for s, actions in DRY_RUNS.items() for a in actions])
def test_a_dry_run_changes_nothing(step, action, deployed_plan, monkeypatch, tmp_path, capsys):
    work = prepare_offline(monkeypatch, tmp_path)
    use_scenarios(monkeypatch, work, "aws_ready")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(work)
    (work / "deployment.yaml").write_bytes(deployed_plan)
    monkeypatch.setattr("sys.stdin", io.StringIO("pat-dry-run-not-a-real-token-0123456789\n"))  # save-token reads it
    before = {p.relative_to(work) for p in work.rglob("*")}
    argv = [step, *([action] if action else []), *DRY_RUNS[step][action], "--dry-run"]
    code = cli.main(argv)
    capsys.readouterr()
    # 2 (refused) or 3 (crashed) would mean the dry run stopped before it ran: nothing to check then
    assert code in (0, 1), argv
    assert (work / "deployment.yaml").read_bytes() == deployed_plan, f"`spcs-llm {' '.join(argv)}` changed the plan"
    created = {p.relative_to(work) for p in work.rglob("*")} - before
    created = {p for p in created if p.parts[0] != STATEMENT_LOG_DIR}
    assert created == set(), f"`spcs-llm {' '.join(argv)}` wrote {sorted(map(str, created))}"
