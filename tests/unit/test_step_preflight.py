"""preflight against recorded accounts: checks, fixes, plan fields, dry run."""

from __future__ import annotations

import pytest
from snowflake_testkit import prepare_offline, run_step, run_text, use_scenarios, write_plan

from spcs_llm import plan_file
from spcs_llm.snowflake import statements


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


def checks_by_id(data):
    return {c["id"]: c for c in data["checks"]}


def test_ready_account_passes_and_is_recorded(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    plan = write_plan(offline / "deployment.yaml")
    code, data, _ = run_step(capsys, "preflight", "--compute-pool", "LLM_POOL")
    assert code == 0, data["missing_required"]
    checks = checks_by_id(data)
    assert checks["create_service"]["status"] == "ok" and checks["create_model"]["status"] == "ok"
    # inherited through ML_ENDPOINTS
    assert checks["bind_service_endpoint"]["status"] == "ok"
    # the pool exists and the role owns it: USAGE is what is needed, not CREATE COMPUTE POOL
    assert checks["usage_compute_pool"]["status"] == "ok" and "create_compute_pool" not in checks
    assert checks["event_table"]["detail"] == "SNOWFLAKE.TELEMETRY.EVENTS"
    assert checks["gpu_families"]["detail"] == "GPU_NV_M, GPU_NV_S"
    assert (data["cloud"], data["china"], data["account"]) == ("aws", False, "MYORG-ML_PROD")
    saved = plan_file.load(plan)
    assert saved["snowflake"] == {"account": "MYORG-ML_PROD", "region": "AWS_US_WEST_2", "role": "ML_DEPLOYER",
                                  "warehouse": "ML_WH", "database": "LLM_DB", "schema": "SERVING"}
    assert saved["history"][-1]["step"] == "preflight"


def test_grants_are_read_for_inherited_roles_and_public(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    _, data, _ = run_step(capsys, "preflight")
    grant_statements = [s for s in data["statements"] if s.startswith("SHOW GRANTS")]
    assert grant_statements == ["SHOW GRANTS TO ROLE ML_DEPLOYER", "SHOW GRANTS TO ROLE PUBLIC",
                                "SHOW GRANTS TO ROLE ML_ENDPOINTS"]


def test_custom_image_path_needs_image_repository_privilege(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    code, data, _ = run_step(capsys, "preflight", "--path", "custom-image", "--grant-to", "DEPLOYERS")
    checks = checks_by_id(data)
    # render-custom's parts create a repository, a stage, a network rule and functions in the schema
    assert code == 1 and data["missing_required"] == ["create_image_repository", "create_stage",
                                                      "create_network_rule", "create_function"]
    assert checks["create_image_repository"]["fix"] == [
        "GRANT CREATE IMAGE REPOSITORY ON SCHEMA LLM_DB.SERVING TO ROLE DEPLOYERS;"]
    assert "create_model" not in checks


def test_missing_pool_needs_create_compute_pool(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    _, data, _ = run_step(capsys, "preflight", "--compute-pool", "NEW_GPU_POOL")
    check = checks_by_id(data)["create_compute_pool"]
    assert check["status"] == "ok" and "NEW_GPU_POOL" in check["detail"]


def test_accountadmin_trial_account(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "admin_trial")
    code, data, _ = run_step(capsys, "preflight", "--database", "LLM_DB", "--schema", "SERVING")
    checks = checks_by_id(data)
    assert code == 1
    assert set(data["missing_required"]) >= {"role", "warehouse", "compute_pools_available", "gpu_families"}
    role_fix = checks["role"]["fix"]
    assert role_fix[0] == ('CREATE ROLE IF NOT EXISTS SPCS_LLM_ROLE;\n'
                           'GRANT ROLE SPCS_LLM_ROLE TO USER "alice@example.com";')
    assert "GRANT CREATE SERVICE ON SCHEMA LLM_DB.SERVING TO ROLE SPCS_LLM_ROLE;" in role_fix
    assert "GRANT BIND SERVICE ENDPOINT ON ACCOUNT TO ROLE SPCS_LLM_ROLE;" in role_fix
    # ACCOUNTADMIN holds account privileges even though SHOW GRANTS does not list them
    assert checks["create_compute_pool"]["status"] == "ok"
    assert checks["event_table"]["status"] == "missing"
    assert checks["event_table"]["fix"] == ["ALTER ACCOUNT SET EVENT_TABLE = SNOWFLAKE.TELEMETRY.EVENTS;"]
    trial = checks["trial_account"]
    assert trial["status"] == "missing" and "Unsupported feature" in trial["detail"]


def test_text_lists_fixes_and_prompt_renders(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "admin_trial")
    code, out, _ = run_text(capsys, "preflight", "--database", "LLM_DB", "--schema", "SERVING")
    assert code == 1 and "To fix" in out and "GRANT CREATE MODEL ON SCHEMA LLM_DB.SERVING TO ROLE SPCS_LLM_ROLE;" in out
    code, out, _ = run_text(capsys, "preflight", "--database", "LLM_DB", "--schema", "SERVING", "--format", "prompt")
    assert "STOP" in out and "ACCOUNTADMIN" in out and "ALTER ACCOUNT SET EVENT_TABLE" in out


def test_china_region_is_flagged(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "china")
    _, data, _ = run_step(capsys, "preflight")
    assert data["china"] is True and data["cloud"] == "aws"
    assert any("snowflakecomputing.cn" in note for note in data["notes"])


def test_unreadable_grants_are_unknown_not_missing(offline, monkeypatch, capsys):
    replay_dir = use_scenarios(monkeypatch, offline, "aws_ready")
    from spcs_llm.snowflake import replay

    replay.record(replay_dir, statements.show_grants_to_role("ML_DEPLOYER"), error={
        "errno": 3001, "sqlstate": "42501", "message": "Insufficient privileges to operate on role 'ML_DEPLOYER'"})
    code, data, _ = run_step(capsys, "preflight")
    checks = checks_by_id(data)
    assert checks["create_service"]["status"] == "unknown" and "Insufficient privileges" in checks["create_service"][
        "detail"]
    assert code == 0


def test_dry_run_prints_statements_never_connects_and_keeps_plan(offline, capsys):
    plan = write_plan(offline / "deployment.yaml", snowflake__role="ML_DEPLOYER")
    before = plan.read_text()
    code, data, err = run_step(capsys, "preflight", "--dry-run")
    assert code == 0 and data["mode"] == "dry-run"
    assert "SHOW GRANTS TO ROLE ML_DEPLOYER;" in err and "SHOW COMPUTE POOL INSTANCE FAMILIES;" in err
    assert {c["status"] for c in data["checks"] if c["id"] != "snowflake_ml_python"} == {"unknown"}
    assert plan.read_text() == before
    log = (offline / ".spcs-llm" / "statements.log").read_text()
    assert "dry-run" in log and "SHOW PARAMETERS LIKE 'EVENT_TABLE' IN ACCOUNT" in log


def test_live_without_a_connection_is_an_environment_error(offline, capsys):
    code = __import__("spcs_llm.cli", fromlist=["main"]).main(["preflight"])
    err = capsys.readouterr().err
    assert code == 3 and "connections.toml" in err


@pytest.mark.parametrize("sql, expected", [
    (statements.context(), "SELECT CURRENT_USER() AS user_name"),
    (statements.show_event_table_parameter(), "SHOW PARAMETERS LIKE 'EVENT_TABLE' IN ACCOUNT"),
    (statements.show_grants_to_role("ML_DEPLOYER"), "SHOW GRANTS TO ROLE ML_DEPLOYER"),
    (statements.show_grants_to_role("data team"), 'SHOW GRANTS TO ROLE "data team"'),
    (statements.grant_privilege("USAGE", "COMPUTE POOL", "R1", "llm_pool"),
     "GRANT USAGE ON COMPUTE POOL LLM_POOL TO ROLE R1;"),
    (statements.grant_privilege("USAGE", "DATABASE", 'odd"role', "db"),
     'GRANT USAGE ON DATABASE DB TO ROLE "odd""role";'),
    (statements.set_event_table("snowflake.telemetry.events"),
     "ALTER ACCOUNT SET EVENT_TABLE = SNOWFLAKE.TELEMETRY.EVENTS;"),
])
def test_golden_sql(sql, expected):
    assert sql.startswith(expected) and (sql == expected or expected.startswith("SELECT"))


def test_context_sql_is_exact():
    assert statements.context().splitlines() == [
        "SELECT CURRENT_USER() AS user_name, CURRENT_ROLE() AS role_name, CURRENT_WAREHOUSE() AS warehouse_name,",
        "       CURRENT_DATABASE() AS database_name, CURRENT_SCHEMA() AS schema_name, "
        "CURRENT_REGION() AS region_name,",
        "       CURRENT_ACCOUNT() AS account_locator, CURRENT_ACCOUNT_NAME() AS account_name,",
        "       CURRENT_ORGANIZATION_NAME() AS organization_name, CURRENT_VERSION() AS snowflake_version"]


def test_database_and_schema_flags_replace_the_plans(offline, monkeypatch, capsys):
    # The privileges are checked on the flags' schema, so that is the schema the plan must deploy to.
    use_scenarios(monkeypatch, offline, "aws_ready")
    plan = write_plan(offline / "deployment.yaml", snowflake__database="OLD_DB", snowflake__schema="OLD")
    code, data, _ = run_step(capsys, "preflight", "--database", "llm_db", "--schema", "serving")
    assert code == 0 and data["target_schema"] == "LLM_DB.SERVING"
    saved = plan_file.load(plan)["snowflake"]
    assert (saved["database"], saved["schema"]) == ("LLM_DB", "SERVING")


def test_session_namespace_does_not_override_the_plans(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    plan = write_plan(offline / "deployment.yaml", snowflake__database="LLM_DB", snowflake__schema="OTHER")
    run_step(capsys, "preflight")
    saved = plan_file.load(plan)["snowflake"]
    assert (saved["database"], saved["schema"]) == ("LLM_DB", "OTHER")


@pytest.mark.parametrize("flag", ["--database", "--schema", "--compute-pool", "--grant-to"])
def test_a_bad_name_is_refused_before_any_statement(offline, monkeypatch, capsys, flag):
    use_scenarios(monkeypatch, offline, "aws_ready")
    code, _, err = run_step(capsys, "preflight", "--dry-run", flag, "x;DROP")
    assert code == 2
    assert f"{flag} 'x;DROP' is not a plain Snowflake identifier" in err
    assert "dry run, not executed" not in err and "SELECT" not in err


def test_a_china_plan_without_a_path_is_checked_for_the_custom_image_path(offline, monkeypatch, capsys):
    """choose-hardware runs preflight before the workers checkpoint picks the path; a China plan
    will take the custom-image path, so that is the path whose privileges are checked."""
    use_scenarios(monkeypatch, offline, "aws_ready", "china")
    write_plan(offline / "deployment.yaml", request__region="cn-northwest-1")
    _, data, _ = run_step(capsys, "preflight")
    assert data["path"] == "custom-image"
    _, data, _ = run_step(capsys, "preflight", "--path", "registry")
    assert data["path"] == "registry"  # an explicit path wins


def test_china_custom_image_advice_fits_the_path_and_optional_grants_stand_apart(offline, monkeypatch, capsys):
    """walk china1: on the custom-image path the note advised 'the pre-downloaded snapshot route' (a
    registry option), and the fix block mixed the not-requested BIND SERVICE ENDPOINT with the required
    grants, so an administrator copying it would grant what the deployment does not use."""
    use_scenarios(monkeypatch, offline, "aws_ready", "china")
    _, data, _ = run_step(capsys, "preflight", "--path", "custom-image")
    notes = " ".join(data["notes"])
    assert "hf-mirror.com" in notes and "snapshot" not in notes
    assert "02_egress.sql" in checks_by_id(data)["create_integration"]["detail"]
    _, data, _ = run_step(capsys, "preflight", "--path", "registry")
    assert "--snapshot-dir" in " ".join(data["notes"])
    code, out, _ = run_text(capsys, "preflight", "--path", "custom-image", "--no-public-endpoint")
    fixes = out.split("To fix", 1)[1]
    required, optional = fixes.split("optional, only if you need", 1)
    assert "GRANT CREATE STAGE ON SCHEMA LLM_DB.SERVING" in required
    assert "GRANT CREATE INTEGRATION ON ACCOUNT" in optional.split("note:")[0]
    assert "CREATE INTEGRATION" not in required


def test_the_text_says_the_role_is_the_connections_and_how_to_deploy_as_another(offline, monkeypatch, capsys):
    # walk china1: the user deploys as LLM_ADMIN, the connection logged in as ML_DEPLOYER, and no step
    # takes a role: the way to change it (the connection's entry) was found only in docs/account.md
    use_scenarios(monkeypatch, offline, "aws_ready")
    _, out, _ = run_text(capsys, "preflight")
    assert "role: ML_DEPLOYER" in out and "acts as the connection's role" in out
    assert 'role = "<ROLE>"' in out and "connections.toml" in out


def test_a_plan_for_another_cloud_is_refused_by_name(offline, monkeypatch, capsys):
    # walk pick1: the plan was sized for Azure West Europe; the connection's account is AWS_US_WEST_2
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", request__cloud="azure", request__region="West Europe")
    code, data, _ = run_step(capsys, "preflight")
    check = checks_by_id(data)["plan_region"]
    assert code == 1 and "plan_region" in data["missing_required"]
    assert "AWS_US_WEST_2" in check["detail"] and "--replan --cloud aws" in check["detail"]


def test_a_plan_for_this_region_in_any_spelling_passes(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", request__cloud="aws", request__region="us-west-2")
    code, data, _ = run_step(capsys, "preflight")
    assert code == 0 and checks_by_id(data)["plan_region"]["status"] == "ok"


def test_another_region_of_the_same_cloud_is_said_but_not_required(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", request__cloud="aws", request__region="eu-central-1")
    code, data, _ = run_step(capsys, "preflight")
    check = checks_by_id(data)["plan_region"]
    assert code == 0 and check["status"] == "missing" and check["required"] is False
