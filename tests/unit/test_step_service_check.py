"""service-check: free name, existing service, rename / replace / keep."""

from __future__ import annotations

import pytest
from snowflake_testkit import prepare_offline, run_step, run_text, use_scenarios, write_plan

from spcs_llm import plan_file
from spcs_llm.snowflake import statements


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


@pytest.fixture
def plan(offline, monkeypatch):
    use_scenarios(monkeypatch, offline, "aws_ready")
    return write_plan(offline / "deployment.yaml", snowflake__database="LLM_DB", snowflake__schema="SERVING",
                      snowflake__service_name="LLM_SVC")


def test_golden_statements():
    assert statements.show_services_like("llm_svc", "llm_db.serving") == \
        "SHOW SERVICES LIKE 'LLM_SVC%' IN SCHEMA LLM_DB.SERVING"
    assert statements.drop_service("llm_db.serving.llm_svc") == "DROP SERVICE IF EXISTS LLM_DB.SERVING.LLM_SVC"


def test_existing_service_needs_a_decision(plan, capsys):
    code, data, _ = run_step(capsys, "service-check")
    assert code == 1 and data["state"] == "exists" and data["status"] == "RUNNING"
    assert data["suggested_name"] == "LLM_SVC_3"  # LLM_SVC_2 exists too
    assert [o["action"] for o in data["options"]] == ["rename", "replace", "keep"]
    replace = data["options"][1]
    assert replace["destructive"] and replace["statement"] == "DROP SERVICE IF EXISTS LLM_DB.SERVING.LLM_SVC;"


def test_free_name_is_recorded(plan, capsys):
    code, data, _ = run_step(capsys, "service-check", "--name", "new_svc")
    assert code == 0 and data["state"] == "absent"
    assert plan_file.load(plan)["snowflake"]["service_name"] == "NEW_SVC"


def test_rename_records_the_suggestion(plan, capsys):
    code, data, _ = run_step(capsys, "service-check", "--action", "rename")
    assert code == 0 and data["service"] == "LLM_DB.SERVING.LLM_SVC_3"
    assert plan_file.load(plan)["snowflake"]["service_name"] == "LLM_SVC_3"


def test_rename_to_a_taken_name_is_refused(plan, capsys):
    from spcs_llm import cli

    assert cli.main(["service-check", "--action", "rename", "--new-name", "llm_svc_2"]) == 2
    assert "exists too" in capsys.readouterr().err


def test_rename_to_a_checked_free_name(plan, capsys):
    code, data, _ = run_step(capsys, "service-check", "--action", "rename", "--new-name", "other_name")
    assert code == 0 and plan_file.load(plan)["snowflake"]["service_name"] == "OTHER_NAME"
    assert "SHOW SERVICES LIKE 'OTHER_NAME%' IN SCHEMA LLM_DB.SERVING" in data["statements"]


def test_replace_needs_yes(plan, capsys):
    from spcs_llm import cli

    assert cli.main(["service-check", "--action", "replace"]) == 2
    err = capsys.readouterr().err
    assert "--yes" in err and "DROP SERVICE IF EXISTS LLM_DB.SERVING.LLM_SVC" in err


def test_replace_with_yes_drops(plan, capsys):
    code, data, _ = run_step(capsys, "service-check", "--action", "replace", "--yes")
    assert code == 0 and data["dropped"] and "LLM_SVC successfully dropped." in data["result"]
    assert data["statements"][-1] == "DROP SERVICE IF EXISTS LLM_DB.SERVING.LLM_SVC"


def test_keep_records_and_points_to_status(plan, capsys):
    code, data, _ = run_step(capsys, "service-check", "--action", "keep")
    assert code == 0 and "spcs-llm status" in data["result"]


def test_keep_of_an_absent_service_is_bad_input(plan, capsys):
    from spcs_llm import cli

    assert cli.main(["service-check", "--name", "new_svc", "--action", "keep"]) == 2


def test_missing_schema_is_bad_input_naming_the_flags(offline, capsys):
    from spcs_llm import cli

    assert cli.main(["service-check", "--name", "x", "--dry-run"]) == 2
    assert "--database" in capsys.readouterr().err


def test_dry_run_replace_prints_drop_without_yes(offline, capsys):
    code, data, err = run_step(capsys, "service-check", "--name", "svc", "--database", "d", "--schema", "s",
                               "--dry-run", "--action", "replace")
    assert code == 0 and data["state"] == "unknown" and "SHOW SERVICES LIKE 'SVC%' IN SCHEMA D.S;" in err
    assert "DROP SERVICE IF EXISTS D.S.SVC;" in err and data["result"] == "dry run: would drop D.S.SVC"


def test_prompt_lists_the_options(plan, capsys):
    code, out, _ = run_text(capsys, "service-check", "--format", "prompt")
    assert code == 1 and "STOP" in out and "replace (destructive)" in out and "--action replace --yes" in out


def test_suggested_commands_target_the_checked_service_not_the_plans(offline, monkeypatch, capsys):
    # The plan names NEW_SVC; the user checks LLM_SVC (taken). Following the printed replace command
    # must drop LLM_SVC: without --name it would act on the plan's service instead.
    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", snowflake__database="LLM_DB", snowflake__schema="SERVING",
               snowflake__service_name="NEW_SVC")
    code, data, _ = run_step(capsys, "service-check", "--name", "llm_svc")
    assert code == 1
    commands = {o["action"]: o["command"] for o in data["options"]}
    assert all("--name LLM_SVC" in c for c in commands.values())
    argv = commands["replace"].split()[1:]
    code, data, _ = run_step(capsys, *argv)
    assert code == 0 and data["statements"][-1] == "DROP SERVICE IF EXISTS LLM_DB.SERVING.LLM_SVC"
