"""spcs-llm access: each action against recorded responses; the plan records decisions, never secrets."""

from __future__ import annotations

import io
import json
import stat

import pytest
from snowflake_testkit import prepare_offline, run_step, use_scenarios, write_plan

from spcs_llm import plan_file
from spcs_llm.snowflake import replay

SVC = "LLM_DB.SERVING.LLM_SVC"


@pytest.fixture
def ready(monkeypatch, tmp_path):
    prepare_offline(monkeypatch, tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    replay_dir = use_scenarios(monkeypatch, tmp_path, "aws_ready")
    plan = write_plan(tmp_path / "deployment.yaml", engine_path="registry", registry__service_fqn=SVC,
                      snowflake__database="LLM_DB", snowflake__schema="SERVING")
    return replay_dir, plan


def _plan(path):
    return plan_file.load(path)


def test_caller_dry_run_prints_the_statements_and_changes_nothing(ready, capsys):
    _, plan = ready
    before = plan.read_text()
    code, data, err = run_step(capsys, "access", "caller", "--dry-run")
    assert code == 0
    assert data["statements"] == [
        f"CREATE ROLE IF NOT EXISTS LLM_SVC_CALLER COMMENT = 'spcs-llm: REST callers of {SVC}'",
        f"CREATE USER IF NOT EXISTS LLM_SVC_APP TYPE = SERVICE DEFAULT_ROLE = LLM_SVC_CALLER COMMENT = "
        f"'spcs-llm: REST callers of {SVC}'",
        "GRANT ROLE LLM_SVC_CALLER TO USER LLM_SVC_APP"]
    assert "CREATE USER IF NOT EXISTS LLM_SVC_APP TYPE = SERVICE" in err
    assert plan.read_text() == before


def test_person_caller_gets_only_the_role(ready, capsys):
    code, data, _ = run_step(capsys, "access", "caller", "--kind", "person", "--user", "alice", "--dry-run")
    assert code == 0 and not any("CREATE USER" in s for s in data["statements"])
    assert data["statements"][-1] == "GRANT ROLE LLM_SVC_CALLER TO USER ALICE"


def test_change_without_yes_is_refused(ready, capsys):
    code, data, err = run_step(capsys, "access", "grant")
    assert code == 2 and "--yes" in err


def test_yes_runs_and_records_the_decision(ready, capsys):
    replay_dir, plan = ready
    statements = [f"CREATE ROLE IF NOT EXISTS LLM_SVC_CALLER COMMENT = 'spcs-llm: REST callers of {SVC}'",
                  "CREATE USER IF NOT EXISTS LLM_SVC_APP TYPE = SERVICE DEFAULT_ROLE = LLM_SVC_CALLER COMMENT = "
                  "'spcs-llm: REST callers of LLM_DB.SERVING.LLM_SVC'", "GRANT ROLE LLM_SVC_CALLER TO USER LLM_SVC_APP"]
    for statement in statements:
        replay.record(replay_dir, statement, [{"status": "Statement executed successfully."}],
                      source="https://docs.snowflake.com/en/sql-reference/sql/create-user")
    code, data, _ = run_step(capsys, "access", "caller", "--yes")
    assert code == 0 and data["executed"]
    recorded = _plan(plan)["rest"]
    assert (recorded["caller_user"], recorded["caller_kind"], recorded["caller_role"]) == \
        ("LLM_SVC_APP", "service", "LLM_SVC_CALLER")


def test_grant_renders_usage_and_the_service_role(ready, capsys):
    code, data, _ = run_step(capsys, "access", "grant", "--dry-run")
    assert code == 0
    assert data["statements"][-1] == f"GRANT SERVICE ROLE {SVC}!ALL_ENDPOINTS_USAGE TO ROLE LLM_SVC_CALLER"


def test_grant_already_there(ready, capsys):
    code, data, _ = run_step(capsys, "access", "grant", "--role", "ML_DEPLOYER", "--dry-run")
    assert code == 0 and data["already_granted"] is True and data["statements"] == []


def test_network_needs_the_clients_addresses(ready, capsys):
    code, data, err = run_step(capsys, "access", "network", "--dry-run")
    assert code == 2 and "--cidr" in data["hint"]


@pytest.mark.parametrize("bad", ["0.0.0.0/0", "203.0.113.7/24", "2001:db8::/32", "example.com", "300.1.1.1"])
def test_network_refuses_bad_cidrs(ready, capsys, bad):
    code, data, _ = run_step(capsys, "access", "network", "--cidr", bad, "--dry-run")
    assert code == 2 and bad in data["error"]


def test_network_renders_rule_policy_and_user(ready, capsys):
    code, data, _ = run_step(capsys, "access", "network", "--cidr", "203.0.113.7", "--cidr", "198.51.100.0/24",
                             "--dry-run")
    assert code == 0
    rule, policy, alter = data["statements"]
    assert rule.startswith("CREATE OR ALTER NETWORK RULE LLM_DB.SERVING.LLM_SVC_APP_REST_RULE")
    assert "MODE = INGRESS" in rule and "TYPE = IPV4" in rule
    assert "VALUE_LIST = ('203.0.113.7/32', '198.51.100.0/24')" in rule
    assert "ALLOWED_NETWORK_RULE_LIST = ('LLM_DB.SERVING.LLM_SVC_APP_REST_RULE')" in policy
    assert alter == "ALTER USER LLM_SVC_APP SET NETWORK_POLICY = LLM_SVC_APP_REST_POLICY"


def test_network_stops_when_a_policy_applies(monkeypatch, tmp_path, ready, capsys):
    use_scenarios(monkeypatch, tmp_path, "aws_ready", "rest_blocked")
    code, data, _ = run_step(capsys, "access", "network", "--cidr", "203.0.113.7", "--dry-run")
    assert code == 1 and data["statements"] == []
    code, data, _ = run_step(capsys, "access", "network", "--cidr", "203.0.113.7", "--add-to-policy", "--dry-run")
    assert code == 0
    assert data["statements"][-1] == ("ALTER NETWORK POLICY LLM_SVC_APP_POLICY ADD ALLOWED_NETWORK_RULE_LIST = "
                                      "('LLM_DB.SERVING.LLM_SVC_APP_REST_RULE')")


def test_check_names_what_is_missing(monkeypatch, tmp_path, ready, capsys):
    use_scenarios(monkeypatch, tmp_path, "aws_ready", "rest_blocked")
    code, data, _ = run_step(capsys, "access", "check", "--dry-run")
    assert code == 1
    assert data["missing"] == ["service role", "active PAT"]  # the policy is there, the PAT expired


def test_token_records_where_the_secret_goes_never_the_secret(ready, capsys):
    _, plan = ready
    code, data, _ = run_step(capsys, "access", "token", "--days", "90", "--connection", "admin")
    assert code == 0
    assert data["statements"] == ["ALTER USER LLM_SVC_APP ADD PROGRAMMATIC ACCESS TOKEN LLM_SVC_REST "
                                  "ROLE_RESTRICTION = 'LLM_SVC_CALLER' DAYS_TO_EXPIRY = 90 COMMENT = "
                                  f"'spcs-llm: REST calls to {SVC}'"]
    assert data["shell_line"].startswith("snow sql -c admin --format json -q \"ALTER USER LLM_SVC_APP ADD")
    assert data["shell_line"].endswith("| spcs-llm access save-token --pat-file ~/.snowflake/spcs-llm-llm_svc.pat")
    rest = _plan(plan)["rest"]
    assert rest["pat_file"] == "~/.snowflake/spcs-llm-llm_svc.pat" and rest["token_days"] == 90


@pytest.mark.parametrize("days", ["0", "366"])
def test_token_days_range(ready, capsys, days):
    code, data, _ = run_step(capsys, "access", "token", "--days", days)
    assert code == 2 and days in data["error"]


def test_keypair_never_takes_a_private_key(ready, capsys, tmp_path):
    key = tmp_path / "k.p8"
    # an obviously fake body: only the PEM armor tells the step that this is a private key
    key.write_text("-----BEGIN PRIVATE KEY-----\nFAKEKEYBODYnotarealkey0000\n-----END PRIVATE KEY-----\n")
    code, data, err = run_step(capsys, "access", "token", "--method", "keypair", "--public-key-file", str(key))
    assert code == 2 and "PRIVATE key" in data["error"] and "FAKEKEYBODY" not in err + json.dumps(data)
    pub = tmp_path / "k.pub"
    pub.write_text("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\nhkiG9w0B\n-----END PUBLIC KEY-----\n")
    code, data, _ = run_step(capsys, "access", "token", "--method", "keypair", "--public-key-file", str(pub))
    assert code == 0 and data["statements"] == ["ALTER USER LLM_SVC_APP SET RSA_PUBLIC_KEY = 'MIIBIjANBgkqhkiG9w0B'"]


@pytest.mark.parametrize("stdin", [
    '[{"token_name": "LLM_SVC_REST", "token_secret": "fake-secret-value-123"}]',
    '[[{"TOKEN_NAME": "LLM_SVC_REST", "TOKEN_SECRET": "fake-secret-value-123"}]]',
    "fake-secret-value-123\n"])
def test_save_token_writes_a_private_file(ready, capsys, monkeypatch, tmp_path, stdin):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    target = tmp_path / "secrets" / "svc.pat"
    code, data, err = run_step(capsys, "access", "save-token", "--pat-file", str(target))
    assert code == 0 and data["written"]
    assert target.read_text() == "fake-secret-value-123\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "fake-secret-value-123" not in json.dumps(data) + err


def test_save_token_refuses_output_without_a_secret(ready, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr("sys.stdin", io.StringIO('[{"status": "Statement executed successfully."}]'))
    code, data, _ = run_step(capsys, "access", "save-token", "--pat-file", str(tmp_path / "x.pat"))
    assert code == 2 and "token_secret" in data["error"] and not (tmp_path / "x.pat").exists()


def test_checkpoint_prompts_render_from_the_real_payloads(monkeypatch, tmp_path, ready, capsys):
    from spcs_llm.prompts import render_prompt

    use_scenarios(monkeypatch, tmp_path, "aws_ready", "rest_blocked")
    _, check, _ = run_step(capsys, "access", "check", "--dry-run")
    text = render_prompt("rest_access_summary", **check)
    assert "LLM_SVC_APP_POLICY (user level)" in text and "Missing: service role, active PAT" in text
    assert "404" in text
    _, grant, _ = run_step(capsys, "access", "grant", "--dry-run")
    text = render_prompt("rest_access_summary", **grant)
    assert f"GRANT SERVICE ROLE {SVC}!ALL_ENDPOINTS_USAGE TO ROLE LLM_SVC_CALLER;" in text and "--yes" in text
    _, token, _ = run_step(capsys, "access", "token", "--dry-run")
    text = render_prompt("rest_token_instructions", **token)
    assert token["shell_line"] in text and "Do not paste the token into this chat" in text


def test_check_records_the_caller_the_user_named(monkeypatch, tmp_path, ready, capsys):
    _, plan = ready
    code, data, _ = run_step(capsys, "access", "check", "--kind", "person", "--user", "alice", "--role",
                             "ml_deployer")
    assert code == 1 and data["missing"] == ["network policy"]
    rest = _plan(plan)["rest"]
    assert (rest["caller_user"], rest["caller_kind"], rest["caller_role"]) == ("ALICE", "person", "ML_DEPLOYER")
    code, data, _ = run_step(capsys, "access", "network", "--cidr", "198.51.100.4", "--dry-run")
    assert data["statements"][-1] == "ALTER USER ALICE SET NETWORK_POLICY = ALICE_REST_POLICY"


def test_save_token_records_only_the_path(ready, capsys, monkeypatch, tmp_path):
    _, plan = ready
    monkeypatch.setattr("sys.stdin", io.StringIO("fake-secret-value-456\n"))
    target = tmp_path / "dify.pat"
    code, data, _ = run_step(capsys, "access", "save-token", "--pat-file", str(target))
    assert code == 0 and _plan(plan)["rest"]["pat_file"] == str(target)
    assert "fake-secret-value-456" not in plan.read_text()


def test_person_network_summary_warns_about_their_own_sign_ins(ready, capsys):
    from spcs_llm.prompts import render_prompt

    _, data, _ = run_step(capsys, "access", "network", "--kind", "person", "--user", "alice", "--cidr",
                          "198.51.100.4", "--dry-run")
    assert "locked out" in render_prompt("rest_access_summary", **data)


def test_check_before_the_caller_exists(ready, capsys):
    code, data, _ = run_step(capsys, "access", "check", "--dry-run")  # LLM_SVC_APP is not created yet
    assert code == 1 and data["missing"][0] == "caller user"


def test_token_line_uses_the_plans_connection(ready, capsys):
    """Walk rest1: without --connection the `snow sql` line had no -c although the plan recorded the
    connection it deployed with, so the token would be created on the user's default connection."""
    _, plan = ready
    loaded = _plan(plan)
    plan_file.update(loaded, "test", {"snowflake.connection": "prod"})
    plan_file.save(loaded, plan)
    code, data, _ = run_step(capsys, "access", "token", "--dry-run")
    assert code == 0 and data["shell_line"].startswith("snow sql -c prod --format json")
    assert data["connection"] == "prod"


def test_rendered_checkpoints_are_not_masked(monkeypatch, tmp_path, ready, capsys):
    """Walk rest1: redaction's key: value pattern masked checkpoint prose ("no password: it" and the
    code fence after "never the token:"); with no secret anywhere, no checkpoint may show ****."""
    from spcs_llm.prompts import render_prompt
    from spcs_llm.redact import MASK, redact

    for argv, prompt in ((("caller",), "rest_access_summary"),
                         (("network", "--cidr", "203.0.113.7"), "rest_access_summary"),
                         (("grant",), "rest_access_summary"), (("token",), "rest_token_instructions")):
        _, data, _ = run_step(capsys, "access", *argv, "--dry-run")
        text = redact(render_prompt(prompt, **data))
        assert MASK not in text, (argv, text)
    assert "```bash\nsnow sql" in redact(render_prompt("rest_token_instructions", **data))
    assert "owns LLM_SVC_APP" in render_prompt("rest_token_instructions", **data)


def test_check_says_plainly_that_the_caller_is_not_created_yet(ready, capsys):
    """Walk rest1: before `access caller`, check printed Snowflake's raw "does not exist" error as
    "could not read", blamed a missing privilege for the role and listed only "caller user"."""
    from spcs_llm import cli

    code = cli.main(["access", "check"])
    out = capsys.readouterr().out
    assert code == 1
    assert "user LLM_SVC_APP does not exist yet" in out and "role LLM_SVC_CALLER does not exist yet" in out
    assert "could not" not in out and "privilege" not in out
    assert "missing: caller user, caller role, network policy, service role, active PAT" in out


def test_check_records_a_caller_an_administrator_created(monkeypatch, tmp_path, ready, capsys):
    """Walk rest1: the admin ran the printed caller/network statements in Snowsight, so no --yes
    recorded them; the next check reads them back and the plan records the caller, policy and grant."""
    replay_dir, plan = ready

    def answer(statement, rows):
        (replay_dir / replay.file_name(statement)).write_text(json.dumps({"statement": statement, "rows": rows}))

    answer("SHOW PARAMETERS LIKE 'NETWORK_POLICY' IN USER LLM_SVC_APP",
           [{"key": "NETWORK_POLICY", "value": "LLM_SVC_APP_REST_POLICY", "default": "", "level": "USER",
             "description": "Network policy assigned for the given target."}])
    answer("SHOW USER PROGRAMMATIC ACCESS TOKENS FOR USER LLM_SVC_APP", [])
    answer("SHOW GRANTS TO ROLE LLM_SVC_CALLER", [])
    code, data, _ = run_step(capsys, "access", "check")
    assert code == 1 and data["missing"] == ["service role", "active PAT"]
    rest = _plan(plan)["rest"]
    assert (rest["caller_user"], rest["caller_role"], rest["network_policy"]) == \
        ("LLM_SVC_APP", "LLM_SVC_CALLER", "LLM_SVC_APP_REST_POLICY")
    assert "grant_done" not in rest


def test_insufficient_privileges_names_who_runs_the_statements(ready, capsys):
    """Walk rest1: the deploy role may not create users; the step printed only Snowflake's error."""
    replay_dir, _ = ready
    statement = f"CREATE ROLE IF NOT EXISTS LLM_SVC_CALLER COMMENT = 'spcs-llm: REST callers of {SVC}'"
    (replay_dir / replay.file_name(statement)).write_text(json.dumps({"statement": statement, "error": {
        "errno": 3001, "sqlstate": "42501",
        "message": "SQL access control error:\nInsufficient privileges to operate on account 'MYORG'"}}))
    code, data, _ = run_step(capsys, "access", "caller", "--yes")
    assert code == 3
    assert "USERADMIN" in data["hint"] and "access caller --dry-run" in data["hint"]
    assert "nothing ran" in data["hint"] and "access check" in data["hint"]


def test_network_dry_run_does_not_claim_what_it_did_not_read(ready, capsys, monkeypatch):
    """Walk rest1: a dry run (no connection, nothing read) stated "No network policy applies yet"."""
    from spcs_llm.prompts import render_prompt

    monkeypatch.delenv(replay.ENV_REPLAY_DIR)
    _, data, _ = run_step(capsys, "access", "network", "--cidr", "203.0.113.7", "--dry-run")
    text = render_prompt("rest_access_summary", **data)
    assert data["policy_read"] is False
    assert "No network policy applies" not in text and "access check" in text


def test_recorded_account_answers_the_playbooks_caller_and_grant(ready, capsys):
    """Walk rest1: aws_ready had no answer for `access caller --yes` (CREATE ROLE ...), so a replayed
    walk of the playbook stopped at its first account change."""
    _, plan = ready
    assert run_step(capsys, "access", "caller", "--yes")[0] == 0
    code, data, _ = run_step(capsys, "access", "grant", "--yes")
    assert code == 0 and data["executed"]
    rest = _plan(plan)["rest"]
    assert rest["caller_user"] == "LLM_SVC_APP" and rest["grant_done"] is True


def test_network_summary_says_who_may_create_the_rule_in_the_schema(ready, capsys):
    """Walk gw1: SECURITYADMIN ran the statements "in one go" as told and CREATE NETWORK RULE was refused."""
    from spcs_llm.prompts import render_prompt

    _, data, _ = run_step(capsys, "access", "network", "--cidr", "192.0.2.40", "--dry-run")
    text = render_prompt("rest_access_summary", **data)
    assert "The rule LLM_DB.SERVING.LLM_SVC_APP_REST_RULE lives in the service's schema" in text
    assert "CREATE NETWORK RULE on that schema" in text and "with the deploying role" in text
