"""The connection rule (issue 9 §1): --connection > the plan's snowflake.connection > the connector's
default chain, for every step and the registry's rendered script. Two connections are configured
(a temp connections.toml); the config's default points at the wrong one, so any step that falls back
to the default chain while the plan names another is caught opening it."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest
from registry_testkit import make_plan
from snowflake_testkit import prepare_offline, write_plan

from spcs_llm import cli, plan_file
from spcs_llm.snowflake import access
from spcs_llm.snowflake import session as session_module
from spcs_llm.snowflake.args import add_snowflake_arguments

CONNECTIONS = """
[prod]
account = "PROD11111"
user = "deployer"
authenticator = "externalbrowser"

[other]
account = "OTHER2222"
user = "someone"
authenticator = "externalbrowser"
"""


class _Cursor:
    description = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql):
        pass

    def fetchall(self):
        return []


class _Connection:
    def cursor(self, _cls=None):
        return _Cursor()

    def close(self):
        pass


@pytest.fixture
def two_connections(monkeypatch, tmp_path):
    """prod and other configured; config.toml makes 'other' the default; logins are recorded."""
    pytest.importorskip("snowflake.connector")
    prepare_offline(monkeypatch, tmp_path)
    home = tmp_path / "snowflake-home"
    (home / "connections.toml").write_text(CONNECTIONS)
    (home / "config.toml").write_text('default_connection_name = "other"\n')
    for name in ("connections.toml", "config.toml"):
        os.chmod(home / name, 0o600)
    opened: list[str] = []

    def connect(resolved):
        opened.append(resolved.name)
        return _Connection()

    def no_snowpark(*_a, **_k):
        raise AssertionError("no Snowpark session expected")

    monkeypatch.setattr(session_module, "connect", connect)
    monkeypatch.setattr(session_module, "snowpark_session", no_snowpark)
    return opened


def _plan(tmp_path, connection: str | None = "prod"):
    """A plan complete enough for every step (registry path), recording `connection` or none."""
    plan = make_plan(service="LLM_SVC")
    plan["snowflake"].update(database="LLM_DB", schema="SERVING")
    plan["snowflake"].pop("connection")
    if connection:
        plan["snowflake"]["connection"] = connection
    path = tmp_path / "deployment.yaml"
    plan_file.save(plan, path)
    return path


def _run(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_plans_connection_wins_over_the_default_chain(two_connections, tmp_path, capsys):
    _plan(tmp_path, "prod")
    code, out, err = _run(capsys, "create-pool", "--yes", "--json")
    assert two_connections == ["prod"]
    assert err.splitlines()[0] == "acting on account PROD11111 (connection prod)"
    assert json.loads(out)["acting_on"] == "acting on account PROD11111 (connection prod)"
    assert code == 0


def test_another_connection_flag_is_refused_unless_rebind(two_connections, tmp_path, capsys):
    path = _plan(tmp_path, "prod")
    code, _, err = _run(capsys, "preflight", "--connection", "other")
    assert code == 2 and two_connections == []
    assert "'prod'" in err and "'other'" in err and "--rebind" in err
    assert plan_file.get(plan_file.load(path), "snowflake.connection") == "prod"

    code, _, err = _run(capsys, "pools", "--connection", "other", "--rebind")
    assert two_connections == ["other"]
    assert "acting on account OTHER2222 (connection other)" in err
    assert plan_file.get(plan_file.load(path), "snowflake.connection") == "other"


def test_same_connection_flag_is_not_a_conflict(two_connections, tmp_path, capsys):
    _plan(tmp_path, "prod")
    _run(capsys, "pools", "--connection", "prod")
    assert two_connections == ["prod"]


def test_first_live_success_records_the_connection_even_when_the_step_saves_the_plan(
        two_connections, tmp_path, capsys):
    path = _plan(tmp_path, None)
    # create-pool loads the plan before its statements and saves it after: the recorded
    # connection must survive that save.
    code, _, err = _run(capsys, "create-pool", "--yes")
    assert code == 0 and two_connections == ["other"]
    assert err.splitlines()[0] == "acting on account OTHER2222 (connection other)"
    plan = plan_file.load(path)
    assert plan_file.get(plan, "snowflake.connection") == "other"
    assert plan_file.get(plan, "snowflake.compute_pool")  # the step's own change is there too
    # from now on the plan decides, whatever the environment says
    os.environ["SNOWFLAKE_DEFAULT_CONNECTION_NAME"] = "prod"
    try:
        _run(capsys, "pools")
    finally:
        del os.environ["SNOWFLAKE_DEFAULT_CONNECTION_NAME"]
    assert two_connections == ["other", "other"]


def test_a_dry_run_names_the_account_and_records_nothing(two_connections, tmp_path, capsys):
    path = _plan(tmp_path, None)
    before = path.read_text()
    code, _, err = _run(capsys, "create-pool", "--dry-run", "--connection", "prod")
    assert code == 0 and two_connections == []
    assert err.splitlines()[0] == "dry run, would act on account PROD11111 (connection prod)"
    assert path.read_text() == before


def test_a_dry_run_without_any_configuration_says_so_instead_of_failing(monkeypatch, tmp_path, capsys):
    prepare_offline(monkeypatch, tmp_path)
    _plan(tmp_path, None)
    code, _, err = _run(capsys, "create-pool", "--dry-run")
    assert code == 0
    assert err.splitlines()[0].startswith("dry run, would act on account unknown (connection (default)): "
                                          "not configured here")


def test_failed_statements_do_not_record(two_connections, tmp_path, capsys, monkeypatch):
    from snowflake.connector.errors import ProgrammingError

    class Failing(_Cursor):
        def execute(self, sql):
            raise ProgrammingError(msg="Insufficient privileges", errno=3001)

    class FailingConnection(_Connection):
        def cursor(self, _cls=None):
            return Failing()

    monkeypatch.setattr(session_module, "connect", lambda resolved: FailingConnection())
    path = _plan(tmp_path, None)
    code, _, _ = _run(capsys, "create-pool", "--yes")
    assert code == 3
    assert plan_file.get(plan_file.load(path), "snowflake.connection") is None


def test_registry_script_bakes_in_the_plans_connection(two_connections, tmp_path, capsys):
    _plan(tmp_path, "prod")
    code, out, _ = _run(capsys, "deploy-registry", "--json")
    assert code == 0, out
    data = json.loads(out)
    script = open(data["script_path"]).read()
    assert "CONNECTION_NAME = 'prod'" in script or 'CONNECTION_NAME = "prod"' in script
    assert data["acting_on"] == "acting on account PROD11111 (connection prod)"
    assert two_connections == []  # rendering never logs in


def test_registry_script_records_a_named_connection_and_refuses_another(two_connections, tmp_path, capsys):
    path = _plan(tmp_path, None)
    code, out, _ = _run(capsys, "deploy-registry", "--connection", "prod", "--json")
    assert code == 0, out
    assert plan_file.get(plan_file.load(path), "snowflake.connection") == "prod"
    # the next render (e.g. --execute) keeps it: the CONNECTION_NAME = None regression
    code, out, _ = _run(capsys, "deploy-registry", "--json")
    assert "'prod'" in open(json.loads(out)["script_path"]).read()
    code, _, err = _run(capsys, "deploy-registry", "--connection", "other", "--execute", "--yes")
    assert code == 2 and "--rebind" in err


def test_registry_script_keeps_a_named_connection_that_does_not_resolve(two_connections, tmp_path, capsys):
    """Walk pick1: `--connection az` (not configured on this machine) rendered CONNECTION_NAME = None, so
    the script would have logged in with the default connection: another account."""
    _plan(tmp_path, None)
    code, out, _ = _run(capsys, "deploy-registry", "--connection", "az", "--json")
    assert code == 0, out
    script = open(json.loads(out)["script_path"]).read()
    assert "CONNECTION_NAME = 'az'" in script or 'CONNECTION_NAME = "az"' in script
    code, _, err = _run(capsys, "deploy-registry", "--connection", "az", "--execute", "--yes")
    assert code == 3 and "would not log in to the account you mean" in err
    assert two_connections == []


def test_registry_script_without_a_recorded_connection_uses_the_resolved_default(two_connections, tmp_path, capsys):
    path = _plan(tmp_path, None)
    code, out, _ = _run(capsys, "deploy-registry", "--json")
    script = open(json.loads(out)["script_path"]).read()
    assert "CONNECTION_NAME = 'other'" in script or 'CONNECTION_NAME = "other"' in script
    # rendering logs in nowhere: the default is recorded by the first live step, not here
    assert plan_file.get(plan_file.load(path), "snowflake.connection") is None


def _account_steps() -> list[str]:
    """Every registered step that takes --connection (new steps are picked up by name)."""
    import importlib

    steps = []
    for name, (module_name, _) in cli.STEPS.items():
        # no try/except: a step that cannot be imported or parsed must fail here, not be skipped
        parser = argparse.ArgumentParser()
        importlib.import_module(module_name).add_arguments(parser)
        if "--connection" in parser._option_string_actions:
            steps.append(name)
    return steps


def _invocations() -> list[tuple[str, list[str]]]:
    """Each account step once per choice of its positional argument (e.g. access check|grant|...)."""
    import importlib

    out = []
    for step in _account_steps():
        parser = argparse.ArgumentParser()
        importlib.import_module(cli.STEPS[step][0]).add_arguments(parser)
        extra = ["--yes"] if "--yes" in parser._option_string_actions else []
        positionals = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
        if positionals and positionals[0].choices:
            out += [(step, [str(choice), *extra]) for choice in positionals[0].choices]
        else:
            out.append((step, ["X"] * len(positionals) + extra))
    return out


@pytest.mark.parametrize(("step", "argv"), _invocations())
def test_no_step_opens_the_connection_the_plan_does_not_name(step, argv, two_connections, tmp_path, capsys):
    _plan(tmp_path, "prod")
    try:
        _run(capsys, step, *argv)
    except SystemExit:  # a further required argument: parsing stopped before any connection
        pass
    assert set(two_connections) <= {"prod"}, f"{step} {argv} opened {two_connections}"


def test_from_args_applies_the_rule(tmp_path):
    parser = argparse.ArgumentParser()
    add_snowflake_arguments(parser, writes=False)
    path = write_plan(tmp_path / "p.yaml", snowflake__connection="prod")
    runner = access.SqlRunner.from_args(parser.parse_args(["--plan", str(path)]))
    assert runner.connection_name == "prod" and runner.choice.source.startswith("the plan")
    runner = access.SqlRunner.from_args(parser.parse_args(["--plan", str(tmp_path / "none.yaml")]))
    assert runner.connection_name is None and not runner.choice.records


def test_the_rendered_registry_script_logs_in_with_the_plans_connection(two_connections, tmp_path, capsys):
    """Run the rendered script (against a stand-in snowflake package): it asks for 'prod' by name."""
    from registry_testkit import run_rendered, write_fake_snowflake

    _plan(tmp_path, "prod")
    code, out, _ = _run(capsys, "deploy-registry", "--json")
    assert code == 0, out
    fake = write_fake_snowflake(tmp_path / "fake")
    _, calls, _, _ = run_rendered(Path(json.loads(out)["script_path"]), fake, tmp_path, {})
    logins = [c["kwargs"] for c in calls if c["call"] == "builder.config"]
    assert logins == [{"key": "connection_name", "value": "prod"}]


def test_a_replayed_step_records_the_named_connection_like_a_live_one(two_connections, tmp_path, capsys,
                                                                       monkeypatch):
    """Walk reg1: `preflight --connection prod` replayed, then a step without --connection acted on the
    default (sandbox) account because only live runs pinned the connection in the plan."""
    recorded = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "aws_ready"
    monkeypatch.setenv("SPCS_LLM_REPLAY_DIR", str(recorded))
    path = _plan(tmp_path, None)
    code, _, err = _run(capsys, "pools", "--connection", "prod")
    assert err.splitlines()[0].endswith("standing in for account PROD11111 (connection prod)")
    assert plan_file.get(plan_file.load(path), "snowflake.connection") == "prod"
    _, _, err = _run(capsys, "service-check", "--name", "NEW_SVC")
    assert err.splitlines()[0].endswith("standing in for account PROD11111 (connection prod)")
    assert two_connections == []  # a replay never logs in
