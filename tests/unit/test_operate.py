"""manage, teardown and cost against recorded responses: teardown order and its guards (the pool is
kept while another service runs on it, nothing is dropped without --yes, a dry run changes nothing),
auto-suspend and its refusal on public endpoints, scale, upgrade on both paths, and the cost views."""

from __future__ import annotations

import json

import pytest
from snowflake_testkit import prepare_offline, run_step, use_scenarios, write_plan

from spcs_llm import plan_file
from spcs_llm.prompts import render_prompt
from spcs_llm.snowflake import replay

LLM_SVC = "LLM_DB.SERVING.LLM_SVC"  # aws_ready: a registry service with a public endpoint, alone on LLM_POOL
CUSTOM_SVC = "LLM_DB.SERVING.CUSTOM_SVC"  # operate: custom image, no public endpoint, SHARED_POOL shared


@pytest.fixture
def offline(monkeypatch, tmp_path):
    prepare_offline(monkeypatch, tmp_path)
    use_scenarios(monkeypatch, tmp_path, "aws_ready", "operate")
    return tmp_path


def custom_plan(tmp_path, **extra):
    return write_plan(tmp_path / "deployment.yaml", engine_path="custom-image", snowflake__database="LLM_DB",
                      snowflake__schema="SERVING", snowflake__service_name="CUSTOM_SVC",
                      snowflake__compute_pool="SHARED_POOL", custom_image__function_name="CUSTOM_SVC_COMPLETE",
                      custom_image__image_repository="SPCS_LLM_IMAGES", custom_image__weights_stage="SPCS_LLM_WEIGHTS",
                      custom_image__eai="CUSTOM_SVC_EAI", custom_image__network_rule="CUSTOM_SVC_EGRESS", **extra)


def registry_plan(tmp_path, model="QWEN_7B", **extra):
    return write_plan(tmp_path / "deployment.yaml", engine_path="registry", snowflake__database="LLM_DB",
                      snowflake__schema="SERVING", snowflake__service_name="LLM_SVC",
                      snowflake__compute_pool="LLM_POOL",
                      registry__model_name=model, registry__version_name="V1", registry__source="remote", **extra)


def executed(payload: dict) -> list[str]:
    return [s for s in payload["statements"] if s.startswith(("DROP", "ALTER"))]


# -- teardown --------------------------------------------------------------------------------------
def test_teardown_drops_service_then_its_unused_pool(offline, capsys):
    code, out, _ = run_step(capsys, "teardown", "--service", LLM_SVC, "--dry-run")
    assert code == 0
    assert [(a["kind"], a["decision"]) for a in out["actions"]] == [("service", "drop"), ("compute pool", "drop")]
    assert [a["statement"] for a in out["actions"]] == ["DROP SERVICE IF EXISTS LLM_DB.SERVING.LLM_SVC",
                                                        "DROP COMPUTE POOL IF EXISTS LLM_POOL"]
    assert "SHOW SERVICES IN COMPUTE POOL LLM_POOL" in out["statements"]
    assert out["dropped"] == []


def test_teardown_keeps_a_pool_another_service_runs_on(offline, capsys):
    code, out, _ = run_step(capsys, "teardown", "--service", CUSTOM_SVC, "--dry-run")
    assert code == 0
    pool = next(a for a in out["actions"] if a["kind"] == "compute pool")
    assert pool["decision"] == "keep" and pool["statement"] is None
    assert "TEAM_DB.APPS.OTHER_SVC" in pool["reason"]


def test_teardown_suspend_pool_keeps_an_unshared_pool_and_stops_its_billing(offline, capsys):
    """Walk debug1: the user wanted the service gone and a possibly shared pool kept but not billing."""
    code, out, _ = run_step(capsys, "teardown", "--service", LLM_SVC, "--suspend-pool", "--yes")
    assert code == 0 and out["done"] is True
    assert executed(out) == ["DROP SERVICE IF EXISTS LLM_DB.SERVING.LLM_SVC", "ALTER COMPUTE POOL LLM_POOL SUSPEND"]
    pool = next(a for a in out["actions"] if a["kind"] == "compute pool")
    assert pool["decision"] == "suspend" and "stops billing" in pool["reason"]
    assert out["dropped"] == [f"service {LLM_SVC}"] and out["suspended"] == ["compute pool LLM_POOL"]
    text = render_prompt("teardown_summary", **out)
    assert "Suspended: compute pool LLM_POOL. Nothing of this deployment bills any more" in text


def test_teardown_suspend_pool_leaves_a_shared_pool_running(offline, capsys):
    code, out, _ = run_step(capsys, "teardown", "--service", CUSTOM_SVC, "--suspend-pool", "--dry-run")
    assert code == 0
    pool = next(a for a in out["actions"] if a["kind"] == "compute pool")
    assert pool["decision"] == "keep" and pool["statement"] is None
    assert "TEAM_DB.APPS.OTHER_SVC" in pool["reason"] and "would suspend" in pool["reason"]


def test_teardown_keep_pool_says_the_pool_still_bills(offline, capsys):
    code, out, _ = run_step(capsys, "teardown", "--service", LLM_SVC, "--keep-pool", "--yes")
    assert code == 0
    pool = next(a for a in out["actions"] if a["kind"] == "compute pool")
    assert "bills" in pool["reason"] and "--suspend-pool" in pool["reason"]
    text = render_prompt("teardown_summary", **out)
    assert "Nothing of this deployment bills any more" not in text
    assert "LLM_POOL is kept and bills while it runs (--keep-pool: it still bills until its AUTO_SUSPEND_SECS" in text


def test_teardown_refuses_keep_pool_with_suspend_pool(offline, capsys):
    from spcs_llm import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["teardown", "--service", LLM_SVC, "--keep-pool", "--suspend-pool", "--dry-run"])
    assert exit_info.value.code == 2 and "--suspend-pool" in capsys.readouterr().err


def test_teardown_without_yes_drops_nothing(offline, capsys):
    code, out, _ = run_step(capsys, "teardown", "--service", LLM_SVC)
    assert code == 2
    assert out["needs_yes"] is True and out["dropped"] == []
    assert executed(out) == []  # only the reads ran


def test_teardown_dry_run_changes_nothing(offline, capsys):
    path = custom_plan(offline)
    before = path.read_bytes()
    code, out, _ = run_step(capsys, "teardown", "--all", "--dry-run")
    assert code == 0 and out["dropped"] == []
    assert path.read_bytes() == before
    log = (offline / ".spcs-llm" / "statements.log").read_text()
    assert all("not run (dry run)" in line for line in log.splitlines() if "\tDROP " in line)


def test_teardown_custom_image_order_with_yes(offline, capsys):
    path = custom_plan(offline)
    code, out, _ = run_step(capsys, "teardown", "--all", "--yes")
    assert code == 0, out
    kinds = [(a["kind"], a["decision"]) for a in out["actions"]]
    assert kinds == [("function", "drop"), ("function", "drop"), ("service", "drop"), ("compute pool", "keep"),
                     ("model version", "keep"), ("image repository", "drop"), ("stage", "drop"),
                     ("external access integration", "drop"), ("network rule", "drop")]
    assert executed(out) == [
        "DROP FUNCTION IF EXISTS LLM_DB.SERVING.CUSTOM_SVC_COMPLETE(VARCHAR)",
        "DROP FUNCTION IF EXISTS LLM_DB.SERVING.CUSTOM_SVC_COMPLETE(VARCHAR, OBJECT)",
        "DROP SERVICE IF EXISTS LLM_DB.SERVING.CUSTOM_SVC",
        "DROP IMAGE REPOSITORY IF EXISTS LLM_DB.SERVING.SPCS_LLM_IMAGES",
        "DROP STAGE IF EXISTS LLM_DB.SERVING.SPCS_LLM_WEIGHTS",
        "DROP EXTERNAL ACCESS INTEGRATION IF EXISTS CUSTOM_SVC_EAI",
        "DROP NETWORK RULE IF EXISTS LLM_DB.SERVING.CUSTOM_SVC_EGRESS",
    ]
    plan = plan_file.load(path)
    assert plan["operate"]["torn_down"][2] == f"service {CUSTOM_SVC}"


def test_teardown_drops_the_only_model_version_as_the_model(offline, capsys):
    registry_plan(offline)
    code, out, _ = run_step(capsys, "teardown", "--model-version", "--yes")
    assert code == 0, out
    assert executed(out) == ["DROP SERVICE IF EXISTS LLM_DB.SERVING.LLM_SVC", "DROP COMPUTE POOL IF EXISTS LLM_POOL",
                             "DROP MODEL IF EXISTS LLM_DB.SERVING.QWEN_7B"]


def test_teardown_keeps_a_default_version_with_siblings(offline, capsys):
    registry_plan(offline, model="QWEN_MULTI")
    code, out, _ = run_step(capsys, "teardown", "--model-version", "--keep-pool", "--dry-run")
    assert code == 0
    version = next(a for a in out["actions"] if a["kind"] == "model version")
    assert version["decision"] == "keep" and "default version" in version["reason"]


def test_teardown_stops_at_the_first_failure(offline, capsys):
    custom_plan(offline)
    replay.record(offline / "replay", "DROP SERVICE IF EXISTS LLM_DB.SERVING.CUSTOM_SVC", error={
        "errno": 3001, "sqlstate": "42501", "message": "Insufficient privileges to operate on service 'CUSTOM_SVC'"})
    code, out, _ = run_step(capsys, "teardown", "--all", "--yes")
    assert code == 3
    assert out["failed"]["kind"] == "service"
    assert out["dropped"] == [f"function {CUSTOM_SVC}_COMPLETE(VARCHAR)",
                              f"function {CUSTOM_SVC}_COMPLETE(VARCHAR, OBJECT)"]
    assert not any("IMAGE REPOSITORY" in s for s in out["statements"])


def test_teardown_refuses_a_bad_function_signature(offline, capsys):
    code, out, _ = run_step(capsys, "teardown", "--service", LLM_SVC, "--function", "ASK(VARCHAR; DROP)", "--dry-run")
    assert code == 2 and "type" in out["error"]


# -- manage ----------------------------------------------------------------------------------------
def test_auto_suspend_sets_service_and_pool(offline, capsys):
    path = custom_plan(offline)
    code, out, _ = run_step(capsys, "manage", "auto-suspend", "--yes")
    assert code == 0, out
    assert out["statements_to_run"] == [
        "ALTER SERVICE IF EXISTS LLM_DB.SERVING.CUSTOM_SVC SET\n  AUTO_SUSPEND_SECS = 1800\n  AUTO_RESUME = TRUE",
        "ALTER COMPUTE POOL SHARED_POOL SET\n  AUTO_SUSPEND_SECS = 3600",
    ]
    assert "other service" in out["summary"]["billing"]  # OTHER_SVC keeps the shared pool billing
    assert "the first call waits" in out["summary"]["wake_up"]
    plan = plan_file.load(path)
    assert plan["operate"]["auto_suspend_secs"] == 1800 and plan["operate"]["pool_auto_suspend_secs"] == 3600


def test_auto_suspend_refused_on_a_public_endpoint(offline, capsys):
    code, out, _ = run_step(capsys, "manage", "auto-suspend", "--service", LLM_SVC, "--dry-run")
    assert code == 1
    assert out["applies"] is False and out["statements_to_run"] == []
    assert "public endpoint" in out["notes"][0]


def test_auto_suspend_of_a_registry_service_points_at_scale_to_zero(offline, capsys):
    registry_plan(offline)
    code, out, _ = run_step(capsys, "manage", "auto-suspend", "--dry-run")
    assert code == 1 and out["statements_to_run"] == []
    assert "--min-instances 0" in out["notes"][-1] and "--no-ingress" in out["notes"][-1]


@pytest.mark.parametrize("secs", ["100", "299", "-1"])
def test_auto_suspend_below_the_minimum_is_refused(offline, capsys, secs):
    code, out, _ = run_step(capsys, "manage", "auto-suspend", "--service", CUSTOM_SVC, "--secs", secs, "--dry-run")
    assert code == 2 and "300" in out["error"]


def test_auto_suspend_off(offline, capsys):
    code, out, _ = run_step(capsys, "manage", "auto-suspend", "--service", CUSTOM_SVC, "--secs", "0", "--dry-run")
    assert code == 0
    assert out["statements_to_run"] == [f"ALTER SERVICE IF EXISTS {CUSTOM_SVC} SET\n  AUTO_SUSPEND_SECS = 0"]


def test_manage_without_yes_changes_nothing(offline, capsys):
    code, out, _ = run_step(capsys, "manage", "suspend", "--service", CUSTOM_SVC)
    assert code == 2 and out["needs_yes"] is True and executed(out) == []


def test_suspend_with_pool_keeps_a_shared_pool(offline, capsys):
    code, out, _ = run_step(capsys, "manage", "suspend", "--service", CUSTOM_SVC, "--with-pool", "--dry-run")
    assert code == 0
    assert out["statements_to_run"] == ["ALTER SERVICE IF EXISTS LLM_DB.SERVING.CUSTOM_SVC SUSPEND"]
    assert "TEAM_DB.APPS.OTHER_SVC" in out["notes"][0]


def test_suspend_with_pool_suspends_an_unshared_pool(offline, capsys):
    code, out, _ = run_step(capsys, "manage", "suspend", "--service", LLM_SVC, "--with-pool", "--dry-run")
    assert out["statements_to_run"][-1] == "ALTER COMPUTE POOL LLM_POOL SUSPEND"


def test_scale_warns_when_the_pool_is_too_small_and_sets_max_nodes(offline, capsys):
    code, out, _ = run_step(capsys, "manage", "scale", "--service", CUSTOM_SVC, "--min-instances", "1",
                            "--max-instances", "3", "--yes")
    assert code == 0
    assert "stay PENDING" in " ".join(out["notes"])
    code, out, _ = run_step(capsys, "manage", "scale", "--service", CUSTOM_SVC, "--min-instances", "1",
                            "--max-instances", "3", "--pool-max-nodes", "3", "--yes")
    assert code == 0 and out["statements_to_run"][-1] == "ALTER COMPUTE POOL SHARED_POOL SET\n  MAX_NODES = 3"
    assert not any("PENDING" in n for n in out["notes"])


@pytest.mark.parametrize("flags, words", [
    (["scale"], "--min-instances"),
    (["scale", "--min-instances", "3", "--max-instances", "2"], "below"),
    (["scale", "--max-instances", "0"], "at least 1"),
    (["suspend", "--secs", "600"], "does not go with"),
])
def test_manage_bad_flags(offline, capsys, flags, words):
    code, out, _ = run_step(capsys, "manage", *flags, "--service", CUSTOM_SVC, "--dry-run")
    assert code == 2 and words in out["error"]


def test_upgrade_custom_image_from_the_rendered_spec(offline, capsys):
    rendered = offline / "custom-image"
    rendered.mkdir()
    spec = "spec:\n  containers:\n  - name: vllm\n    image: /llm_db/serving/spcs_llm_images/vllm:v2\n"
    (rendered / "service_spec.yaml").write_text(spec)
    custom_plan(offline, custom_image__rendered_dir=str(rendered))
    code, out, _ = run_step(capsys, "manage", "upgrade", "--dry-run")
    assert code == 0, out
    assert out["statements_to_run"] == [f"ALTER SERVICE IF EXISTS {CUSTOM_SVC}\n  FROM SPECIFICATION $$\n{spec}$$"]


def test_upgrade_refuses_an_invalid_spec(offline, capsys):
    bad = offline / "bad.yaml"
    bad.write_text("spec:\n  containers: []\n  volumes: 3\n  bogus: 1\n")
    code, out, _ = run_step(capsys, "manage", "upgrade", "--service", CUSTOM_SVC, "--spec-file", str(bad), "--dry-run")
    assert code == 2 and "not a valid service specification" in out["error"]


def test_upgrade_of_a_registry_service_points_at_redeploying(offline, capsys):
    registry_plan(offline)
    code, out, _ = run_step(capsys, "manage", "upgrade", "--dry-run")
    assert code == 1 and out["statements_to_run"] == []
    assert "deploy-registry" in out["notes"][0] and "no in-place upgrade" in out["notes"][0]


def test_manage_a_missing_service(offline, capsys):
    code, out, _ = run_step(capsys, "manage", "resume", "--service", "LLM_DB.SERVING.GONE_SVC", "--dry-run")
    assert code == 1 and "does not exist" in out["notes"][0]


def test_no_service_named_anywhere(offline, capsys):
    code, out, _ = run_step(capsys, "manage", "suspend", "--dry-run")
    assert code == 2 and "--service" in out["hint"]


# -- cost ------------------------------------------------------------------------------------------
def test_cost_reads_the_views_and_what_bills_now(offline, capsys):
    registry_plan(offline, workers__min_instances=1, workers__max_instances=2)
    code, out, _ = run_step(capsys, "cost", "--dry-run")
    assert code == 0
    assert out["credits_by_pool"][0] == {"compute_pool_name": "LLM_POOL", "credits_used": 64.32,
                                         "first_hour": "2026-04-01 10:00:00.000 -0700",
                                         "last_hour": "2026-04-02 10:00:00.000 -0700"}
    assert out["credits_by_service"][0]["service_name"] == "LLM_SVC"
    assert out["spcs_credits_total"] == 64.73
    billing = {p["name"]: p for p in out["billing_now"]}
    assert billing["LLM_POOL"]["credits_per_hour"] == 2.68  # 1 ACTIVE GPU_NV_M node
    assert out["plan_burn_rate"]["credits_per_hour"] == [2.68, 2.68]  # 4 instances fit one GPU_NV_M node


def test_cost_says_credits_are_not_money_and_where_the_price_is(offline, capsys):
    from spcs_llm import cli

    assert cli.main(["cost", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "credits, not money" in text and "RATE_SHEET_DAILY" in text and "$" not in text


def test_cost_reports_a_refused_view_and_continues(offline, capsys):
    from spcs_llm.operate import sql

    statement = sql.model_serving_credits(sql.Window(hours=168))
    replay.record(offline / "replay", statement, error={
        "errno": 3001, "sqlstate": "42501", "message": "Insufficient privileges to operate on view"})
    code, out, _ = run_step(capsys, "cost", "--dry-run")
    assert code == 0
    assert out["refused"][0]["view"] == "SNOWFLAKE.ACCOUNT_USAGE.MODEL_SERVING_USAGE_HISTORY"
    assert "IMPORTED PRIVILEGES" in out["refused"][0]["fix"]
    assert out["credits_by_pool"]  # the other views still answered


@pytest.mark.parametrize("flags, words", [
    (["--days", "0"], "1 to 365"), (["--since", "2026-13-01"], "not a date"),
    (["--since", "2026-11-02", "--until", "2026-11-01"], "after"), (["--until", "2026-11-01"], "--since"),
    (["--days", "3", "--since", "2026-11-01"], "either"),
])
def test_cost_bad_window(offline, capsys, flags, words):
    code, out, _ = run_step(capsys, "cost", *flags, "--dry-run")
    assert code == 2 and words in out["error"]


def test_cost_without_an_account_prints_the_statements(monkeypatch, tmp_path, capsys):
    prepare_offline(monkeypatch, tmp_path)
    code, out, err = run_step(capsys, "cost", "--since", "2026-11-01", "--pool", "llm_pool", "--dry-run")
    assert code == 0 and out["read"] is False
    assert "TO_TIMESTAMP_LTZ('2026-11-01')" in err and "COMPUTE_POOL_NAME = 'LLM_POOL'" in err


# -- checkpoint texts ------------------------------------------------------------------------------
def test_summaries_end_in_a_stop_before_changing_anything(offline, capsys):
    from spcs_llm import cli

    assert cli.main(["teardown", "--service", LLM_SVC, "--dry-run", "--format", "prompt"]) == 0
    text = capsys.readouterr().out
    assert "| 2 | compute pool | LLM_POOL | drop |" in text and "STOP." in text
    assert cli.main(["manage", "auto-suspend", "--service", CUSTOM_SVC, "--dry-run", "--format", "prompt"]) == 0
    text = capsys.readouterr().out
    assert "Wake-up" in text and "STOP." in text and "AUTO_SUSPEND_SECS = 1800" in text


def test_prompt_after_a_teardown_says_what_was_dropped():
    data = {"service": LLM_SVC, "actions": [{"order": 1, "kind": "service", "name": LLM_SVC, "decision": "drop",
                                             "reason": "", "statement": "DROP SERVICE IF EXISTS " + LLM_SVC}],
            "failed": None, "done": True, "dropped": [f"service {LLM_SVC}"]}
    text = render_prompt("teardown_summary", **data)
    assert "Dropped: service LLM_DB.SERVING.LLM_SVC" in text and "STOP" not in text
    json.dumps(data)


@pytest.mark.parametrize("flags", [["suspend", "--with-pool"], ["resume"], ["scale", "--max-instances", "2"],
                                   ["auto-suspend"], ["auto-suspend", "--secs", "0"]])
def test_every_action_has_a_summary(offline, capsys, flags):
    from spcs_llm import cli

    assert cli.main(["manage", *flags, "--service", CUSTOM_SVC, "--dry-run", "--format", "prompt"]) == 0
    text = capsys.readouterr().out
    assert f"## {flags[0]}: {CUSTOM_SVC}" in text and "STOP." in text and "```sql" in text


def test_the_path_that_names_the_service_wins_over_engine_path(offline, capsys):
    """A plan that switched paths keeps engine_path registry; the custom-image records name this service."""
    custom_plan(offline, custom_image__service_name="CUSTOM_SVC")
    path = offline / "deployment.yaml"
    plan = plan_file.load(path)
    plan_file.update(plan, "test", {"engine_path": "registry"})
    plan_file.save(plan, path)
    code, out, _ = run_step(capsys, "manage", "auto-suspend", "--dry-run")
    assert code == 0 and out["applies"] is True
    code, out, _ = run_step(capsys, "teardown", "--all", "--dry-run")
    assert [a["kind"] for a in out["actions"] if a["statement"]][:3] == ["function", "function", "service"]


# -- upgrade to a layout with another instance count (walk oom1) --------------------------------------
def _service_instances(replay_dir, low: int, high: int) -> None:
    path = replay_dir / replay.file_name(f"DESCRIBE SERVICE {CUSTOM_SVC}")
    data = json.loads(path.read_text())
    data["rows"][0].update(min_instances=low, max_instances=high)
    path.write_text(json.dumps(data))


def _rendered(tmp_path, tp: int) -> str:
    rendered = tmp_path / "custom-image"
    rendered.mkdir(exist_ok=True)
    spec = (f"spec:\n  containers:\n  - name: vllm\n    image: /llm_db/serving/spcs_llm_images/vllm:v2\n"
            f"    env:\n      TENSOR_PARALLEL_SIZE: \"{tp}\"\n")
    (rendered / "service_spec.yaml").write_text(spec)
    return str(rendered)


def test_upgrade_to_fewer_larger_instances_scales_down_first(offline, capsys):
    # TP=1 x 2 crashed; the plan now has TP=2 x 1: a spec change alone would leave a second 2-GPU instance
    # that a one-node pool cannot place, so the upgrade also sets the plan's instance count, before the spec
    _service_instances(offline / "replay", 2, 2)
    custom_plan(offline, custom_image__rendered_dir=_rendered(offline, 2), workers__min_instances=1,
                workers__max_instances=1)
    code, out, _ = run_step(capsys, "manage", "upgrade", "--dry-run")
    assert code == 0, out
    assert [s.split("\n")[0] for s in out["statements_to_run"]] == [
        f"ALTER SERVICE IF EXISTS {CUSTOM_SVC} SET", f"ALTER SERVICE IF EXISTS {CUSTOM_SVC}"]
    assert "MIN_INSTANCES = 1" in out["statements_to_run"][0] and "MAX_INSTANCES = 1" in out["statements_to_run"][0]
    assert out["summary"]["what"].endswith("instances 2..2 -> 1..1 (the plan's)")
    assert '+      TENSOR_PARALLEL_SIZE: "2"' in out["summary"]["spec_changes"]
    assert "Specification changes (running -> new)" in render_prompt("manage_summary", **out)


def test_upgrade_to_more_instances_changes_the_spec_first(offline, capsys):
    custom_plan(offline, custom_image__rendered_dir=_rendered(offline, 1), workers__min_instances=1,
                workers__max_instances=2)
    code, out, _ = run_step(capsys, "manage", "upgrade", "--dry-run")
    assert code == 0, out
    assert "FROM SPECIFICATION" in out["statements_to_run"][0] and "MAX_INSTANCES = 2" in out["statements_to_run"][1]


def test_upgrade_keeps_the_instance_count_when_it_matches_or_the_spec_is_given(offline, capsys):
    rendered = _rendered(offline, 2)
    custom_plan(offline, custom_image__rendered_dir=rendered, workers__min_instances=1, workers__max_instances=1)
    code, out, _ = run_step(capsys, "manage", "upgrade", "--dry-run")
    assert code == 0 and len(out["statements_to_run"]) == 1 and "new_instances" not in out
    _service_instances(offline / "replay", 2, 2)
    code, out, _ = run_step(capsys, "manage", "upgrade", "--spec-file", f"{rendered}/service_spec.yaml", "--dry-run")
    assert code == 0 and len(out["statements_to_run"]) == 1  # a hand-given spec: the plan's workers may not apply


def test_scale_summary_says_what_the_instances_were(offline, capsys):
    code, out, _ = run_step(capsys, "manage", "scale", "--service", CUSTOM_SVC, "--max-instances", "3", "--dry-run")
    assert code == 0 and out["summary"]["what"] == "instances 1..1 -> 1..3"


def test_suspend_without_auto_resume_keeps_calls_from_waking_it(offline, capsys):
    """Walk reg1: the user wanted an old service suspended with AUTO_RESUME off; the pack had no way."""
    code, out, _ = run_step(capsys, "manage", "suspend", "--service", CUSTOM_SVC, "--no-auto-resume", "--dry-run")
    assert code == 0
    assert out["statements_to_run"] == ["ALTER SERVICE IF EXISTS LLM_DB.SERVING.CUSTOM_SVC SUSPEND",
                                        "ALTER SERVICE IF EXISTS LLM_DB.SERVING.CUSTOM_SVC SET\n  AUTO_RESUME = FALSE"]
    code, out, _ = run_step(capsys, "manage", "resume", "--service", CUSTOM_SVC, "--auto-resume", "--dry-run")
    assert out["statements_to_run"][-2:] == [
        "ALTER SERVICE IF EXISTS LLM_DB.SERVING.CUSTOM_SVC RESUME",
        "ALTER SERVICE IF EXISTS LLM_DB.SERVING.CUSTOM_SVC SET\n  AUTO_RESUME = TRUE"]


@pytest.mark.parametrize(("action", "flag"), [("resume", "--no-auto-resume"), ("suspend", "--auto-resume"),
                                              ("scale", "--no-auto-resume")])
def test_auto_resume_flags_only_with_their_action(offline, capsys, action, flag):
    code, _, err = run_step(capsys, "manage", action, "--service", CUSTOM_SVC, flag, "--dry-run")
    assert code == 2 and f"{flag} goes with" in err
