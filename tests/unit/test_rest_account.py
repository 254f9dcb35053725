"""rest/account.py against recorded responses: network policy, service-role grant, PAT metadata."""

from __future__ import annotations

import json

import pytest
from snowflake_testkit import RECORDED, prepare_offline, use_scenarios

from spcs_llm.rest import account, sql
from spcs_llm.snowflake import columns
from spcs_llm.snowflake.access import SqlError, SqlRunner


@pytest.fixture
def runner(monkeypatch, tmp_path):
    prepare_offline(monkeypatch, tmp_path)

    def make(*scenarios: str) -> SqlRunner:
        replay_dir = use_scenarios(monkeypatch, tmp_path, *scenarios)
        return SqlRunner(replay_dir=replay_dir)
    return make


def test_statements_are_the_documented_forms():
    assert sql.show_network_policy("ALICE") == "SHOW PARAMETERS LIKE 'NETWORK_POLICY' IN USER ALICE"
    assert sql.show_network_policy() == "SHOW PARAMETERS LIKE 'NETWORK_POLICY' IN ACCOUNT"
    assert sql.show_network_policy("alice@example.com") == \
        "SHOW PARAMETERS LIKE 'NETWORK_POLICY' IN USER \"alice@example.com\""
    assert sql.show_grants_of_service_role("llm_db.serving.llm_svc") == \
        "SHOW GRANTS OF SERVICE ROLE LLM_DB.SERVING.LLM_SVC!ALL_ENDPOINTS_USAGE"
    assert sql.show_user_pats("ALICE") == "SHOW USER PROGRAMMATIC ACCESS TOKENS FOR USER ALICE"


def test_no_policy_anywhere(runner):
    result = account.network_policy_for_user(runner("aws_ready"), "ALICE")
    assert result == {"user_policy": None, "account_policy": None, "effective": None, "unreadable": []}


def test_user_policy_is_effective(runner):
    result = account.network_policy_for_user(runner("rest_blocked"), "LLM_SVC_APP")
    assert result["user_policy"] == "LLM_SVC_APP_POLICY"
    assert result["effective"] == "LLM_SVC_APP_POLICY"


def test_account_policy_applies_when_the_user_has_none(runner, tmp_path):
    run = runner("aws_ready")
    path = run.replay_dir / "show_parameters_like_network_policy_in_account.json"
    data = json.loads(path.read_text())
    data["rows"][0].update(value="CORP_POLICY", level="ACCOUNT")
    path.write_text(json.dumps(data))
    result = account.network_policy_for_user(run, "ALICE")
    assert (result["user_policy"], result["account_policy"]) == (None, "CORP_POLICY")
    assert result["effective"] == "CORP_POLICY"


def test_unreadable_user_level_never_guesses(runner):
    result = account.network_policy_for_user(runner("rest_blocked"), "BOB")
    assert result["effective"] is None
    assert [u["level"] for u in result["unreadable"]] == ["user"]
    assert "Insufficient privileges" in result["unreadable"][0]["error"]


def test_grant_through_an_inherited_role(runner):
    # ML_DEPLOYER inherits ML_ENDPOINTS, which holds LLM_SVC!ALL_ENDPOINTS_USAGE
    assert account.service_role_granted(runner("aws_ready"), "LLM_DB.SERVING.LLM_SVC", "ML_DEPLOYER") is True
    assert account.service_role_granted(runner("aws_ready"), "LLM_DB.SERVING.LLM_SVC", "ml_endpoints") is True


def test_grant_missing(runner):
    assert account.service_role_granted(runner("rest_blocked"), "LLM_DB.SERVING.LLM_SVC", "LLM_SVC_CALLER") is False


def test_grant_unknown_when_snowflake_will_not_list_it(runner):
    assert account.service_role_granted(runner("rest_blocked"), "LLM_DB.SERVING.OTHER_SVC", "ML_DEPLOYER") is None


def test_grant_unknown_in_a_dry_run_without_recordings(monkeypatch, tmp_path):
    prepare_offline(monkeypatch, tmp_path)
    assert account.service_role_granted(SqlRunner(dry_run=True), "LLM_DB.SERVING.LLM_SVC", "R") is None


def test_pat_metadata_only(runner):
    pats = account.pat_status(runner("rest_blocked"), "LLM_SVC_APP")
    assert pats == [{"name": "APP_TOKEN", "role_restriction": "LLM_SVC_CALLER",
                     "expires_at": "2026-04-10 08:00:00.000 -0700", "status": "EXPIRED", "comment": None,
                     "mins_to_bypass_required_network_policy": 0}]
    assert all("secret" not in key for pat in pats for key in pat)


def test_pat_refusal_is_an_sql_error(runner):
    with pytest.raises(SqlError):
        account.pat_status(runner("rest_blocked"), "BOB")


def test_fixtures_use_exactly_the_documented_columns():
    for scenario in ("aws_ready", "rest_blocked"):
        paths = sorted((RECORDED / scenario).glob("show_*network_policy*.json"))
        assert paths, f"no network-policy recordings in {scenario}"  # else the loop below checks nothing
        for path in paths:
            data = json.loads(path.read_text())
            assert data["_source"] == columns.DOCS["show-parameters"].url
            columns.shape(data.get("rows", []), "show-parameters", strict=True, where=str(path))
