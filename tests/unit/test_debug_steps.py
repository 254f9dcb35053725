"""logs, events, metrics and diagnose against recorded scenarios: containers discovered, the previous run
read only for a restarted container, bounded windows, refusals naming MONITOR, the event table once the
service is gone, dry runs that print SQL and change nothing."""

from __future__ import annotations

import pytest
from snowflake_testkit import prepare_offline, run_step, run_text, use_scenarios, write_plan

from spcs_llm import plan_file
from spcs_llm.debug import sql

SVC = ["--service", "llm_db.serving.llm_svc"]
FQN = "LLM_DB.SERVING.LLM_SVC"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


def test_golden_statements():
    assert sql.container_logs(FQN, "0", "vllm", lines=500, previous=True) == (
        "SELECT value AS log_line FROM TABLE(SPLIT_TO_TABLE(SYSTEM$GET_SERVICE_LOGS('LLM_DB.SERVING.LLM_SVC', '0', "
        "'vllm', 500, TRUE), '\\n'))")
    assert sql.spcs_get_events(FQN, minutes=90, limit=10) == (
        "SELECT * FROM TABLE(LLM_DB.SERVING.LLM_SVC!SPCS_GET_EVENTS(START_TIME => DATEADD('minute', -90, "
        "CURRENT_TIMESTAMP()))) ORDER BY TIMESTAMP DESC LIMIT 10")
    assert 'RESOURCE_ATTRIBUTES:"snow.service.name" = \'LLM_SVC\'' in sql.event_table(
        "SNOWFLAKE.TELEMETRY.EVENTS", FQN, minutes=60, limit=5, record_types=("LOG",))


def test_logs_read_every_discovered_container(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    code, data, _ = run_step(capsys, "logs", *SVC)
    assert code == 0 and data["mode"] == "replay"
    assert [(r["container_name"], r["run"]) for r in data["container_logs"]] == [
        ("model-inference", "current"), ("proxy", "current"), ("vllm-engine", "current")]
    assert not any(", TRUE)" in s for s in data["statements"])  # nothing restarted: no previous run to ask for


def test_logs_of_a_crash_loop_include_the_previous_run(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "kv_crash_loop")
    code, data, _ = run_step(capsys, "logs", *SVC, "--grep", "KV cache", "--tail", "5")
    previous = [r for r in data["container_logs"] if r["run"] == "previous"]
    assert code == 0 and len(previous) == 1 and previous[0]["container_name"] == "model-inference"
    assert previous[0]["lines"] and all("KV cache" in line for line in previous[0]["lines"])
    assert any(s.endswith("500, TRUE), '\\n'))") for s in data["statements"])


def test_an_empty_section_says_whether_grep_or_the_log_left_nothing(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "service_pending")
    code, out, _ = run_text(capsys, "logs", *SVC, "--grep", "Traceback")
    assert code == 0 and "(no lines)" not in out
    assert out.count("(no line matches --grep 'Traceback')") == 4  # 3 container runs and SPCS_GET_LOGS
    code, out, _ = run_text(capsys, "logs", *SVC)
    assert "== model-inference (instance 0, current run) ==\n(empty: no log lines)" in out


def test_refused_logs_name_the_monitor_privilege_and_exit_3(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "monitor_refused")
    code, out, _ = run_text(capsys, "logs", *SVC)
    assert code == 3 and "GRANT MONITOR ON SERVICE LLM_DB.SERVING.LLM_SVC" in out


def test_events_of_a_dropped_service_come_from_the_event_table(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "service_dropped")
    code, data, _ = run_step(capsys, "events", *SVC)
    assert code == 0 and data["spcs_get_events"] is None
    assert data["event_table"]["table"] == "SNOWFLAKE.TELEMETRY.EVENTS"
    assert [e["status"] for e in data["events"]] == ["FAILED", "DELETED"]
    assert data["events"][0]["container_name"] == "model-inference"


def test_metrics_summary_per_container_and_gpu(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "kv_crash_loop")
    code, data, _ = run_step(capsys, "metrics", *SVC)
    assert code == 0 and data["platform_monitor"] is True and data["notes"] == []
    container = data["containers"][0]
    assert container["memory_used_gib"] == 20 and container["memory_limit_gib"] == 170
    assert container["restarts"] == 7 and container["last_finished_reason"] == "Failed"
    gpu = data["gpus"][0]
    assert gpu["capacity_gib"] == 24 and gpu["memory_used_ratio"] == pytest.approx(0.892, abs=0.001)
    assert gpu["utilization"] == 0.2 and gpu["utilization_mean"] == pytest.approx(0.1)


def test_metrics_say_when_the_spec_has_no_platform_monitor(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    code, data, _ = run_step(capsys, "metrics", *SVC)
    assert code == 0 and data["platform_monitor"] is False and "platformMonitor" in data["notes"][0]


def test_metrics_chart_is_a_png(offline, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    use_scenarios(monkeypatch, offline, "aws_ready", "kv_crash_loop")
    code, data, _ = run_step(capsys, "metrics", *SVC, "--chart", str(offline / "m.png"))
    assert code == 0 and (offline / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_diagnose_a_kv_crash_loop_live(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "kv_crash_loop")
    plan = write_plan(offline / "deployment.yaml", snowflake__database="LLM_DB", snowflake__schema="SERVING",
                      snowflake__service_name="LLM_SVC", selection__gpu="A10G",
                      selection__gpu_memory_utilization=0.9, selection__max_model_len=32768)
    code, data, _ = run_step(capsys, "diagnose")  # the service comes from the plan
    assert code == 1 and [f["cause"] for f in data["findings"]] == ["kv_cache_too_small", "crash_loop"]
    assert data["findings"][0]["evidence"][0].startswith("model-inference previous run: ValueError")
    assert plan_file.get(plan_file.load(plan), "observed.kv_cache")[-1]["kv_cache_tokens"] == 21472


def test_diagnose_a_sidecar_failing_while_the_model_waits_for_its_node(offline, monkeypatch, capsys):
    """Walk debug1: status said `restarting` (proxy FAILED, 2 restarts) and diagnose said only "provisioning,
    wait". The failed container is a finding with its crashed run's error, ranked below the wait it follows
    from, and the provisioning finding shows the pool's nodes and when waiting stops being the answer."""
    use_scenarios(monkeypatch, offline, "aws_ready", "service_pending")
    code, data, _ = run_step(capsys, "diagnose", *SVC, "--connection", "prod")
    assert code == 1 and [f["cause"] for f in data["findings"]] == ["provisioning", "container_failed"]
    provisioning, failed = data["findings"]
    assert "compute pool LLM_POOL: ACTIVE, 1 of 1 node(s) active" in provisioning["evidence"]
    assert "30 minutes" in provisioning["fix"] and "support" in provisioning["fix"]
    assert failed["evidence"][0] == ("container proxy: FAILED, 2 restarts, last exit None: User application error, "
                                     "check container logs")
    assert any("proxy previous run: ERROR:" in line and "Connection refused" in line for line in failed["evidence"])
    assert "model-inference" in failed["fix"] and failed["commands"] == [
        "spcs-llm logs --service LLM_DB.SERVING.LLM_SVC --connection prod --tail 80"]


def test_diagnose_a_healthy_service_finds_nothing(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    code, data, _ = run_step(capsys, "diagnose", *SVC)
    assert code == 0 and data["findings"] == [] and data["healthy"] is True


def test_diagnose_never_calls_refused_evidence_healthy(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "monitor_refused")
    code, data, _ = run_step(capsys, "diagnose", *SVC)
    assert code == 3 and data["healthy"] is False and "MONITOR" in data["missing_privileges"][0]


def test_diagnose_a_dropped_service_from_the_event_table(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "service_dropped")
    code, data, _ = run_step(capsys, "diagnose", *SVC)
    assert code == 1 and data["findings"][0]["cause"] == "cuda_oom"


def test_dry_run_prints_the_sql_and_changes_nothing(offline, capsys):
    plan = write_plan(offline / "deployment.yaml", selection__gpu="A10G", selection__gpu_memory_utilization=0.9)
    before = plan.read_text()
    code, data, err = run_step(capsys, "diagnose", *SVC, "--dry-run")
    assert code == 0 and data["mode"] == "dry-run" and plan.read_text() == before
    assert "-- dry run, not executed:\nDESCRIBE SERVICE LLM_DB.SERVING.LLM_SVC;" in err
    code, data, err = run_step(capsys, "events", *SVC, "--dry-run", "--since", "2h")
    assert code == 0 and "DATEADD('minute', -120, CURRENT_TIMESTAMP())" in err


@pytest.mark.parametrize("argv", [["--since", "0h"], ["--since", "30d"], ["--since", "soon"],
                                  ["--service", "just_a_name"], ["--tail", "0"], ["--grep", "("]])
def test_bad_input_is_exit_2(offline, capsys, argv):
    from spcs_llm import cli

    assert cli.main(["logs", *([] if argv[0] == "--service" else SVC), *argv, "--dry-run"]) == 2


def test_without_a_plan_or_service_the_step_says_what_to_pass(offline, capsys):
    code, out, err = run_text(capsys, "metrics", "--dry-run")
    assert code == 2 and "--service DB.SCHEMA.NAME" in err
