"""diagnose --from-file: each failure signature is named, with its evidence and a fix whose commands the
CLI accepts; a clean start-up gets no cause. The error texts in tests/fixtures/evidence are real ones:
vLLM #2418 / QwenLM/Qwen3 #295 (KV cache, V0), vllm kv_cache_utils.py (V1 check_enough_kv_cache_memory),
vLLM #12030 (CUDA OOM), SPCS monitoring-services platform events (OOMKilled, image pull, readiness
probe), MiniMax-01 #42 / vLLM #1710 (NCCL /dev/shm), vLLM #2652 (heads vs TP), vLLM #1157 (bf16 on T4),
vLLM #1282 / #4327 (quantization capability), vLLM #1986 (egress), huggingface_hub GatedRepoError (401),
desc-compute-pool (392507 CAPACITY_ERROR)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from snowflake_testkit import prepare_offline, run_step, write_plan

from spcs_llm import plan_file
from spcs_llm.skills_check.commands import check_call

EVIDENCE = Path(__file__).resolve().parents[1] / "fixtures" / "evidence"

CASES = [
    ("kv_cache_too_small.log", "kv_cache_too_small"),
    ("kv_cache_too_small_v1.log", "kv_cache_too_small"),
    ("cuda_oom.log", "cuda_oom"),
    ("oom_killed_events.json", "oom_killed"),
    ("shm_nccl.log", "shm_nccl"),
    ("tp_heads.log", "tp_heads"),
    ("dtype_unsupported.log", "dtype_unsupported"),
    ("quantization_unsupported.log", "quantization_unsupported"),
    ("image_pull_events.json", "image_pull"),
    ("egress_blocked.log", "egress_blocked"),
    ("gated_no_token.log", "gated_no_token"),
    ("no_capacity_pool.json", "no_capacity"),
    ("readiness_failing_events.json", "readiness_failing"),
    ("suspended_status.json", "suspended"),
    ("crash_loop_containers.txt", "crash_loop"),
    ("container_failed_status.txt", "container_failed"),
    ("provisioning_status.txt", "provisioning"),
    ("loading.log", "loading"),
]


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


@pytest.mark.parametrize(("name", "cause"), CASES)
def test_each_signature_names_its_cause_and_a_runnable_fix(offline, capsys, name, cause):
    code, data, _ = run_step(capsys, "diagnose", "--from-file", str(EVIDENCE / name))
    assert code == 1 and data["mode"] == "files"
    top = data["findings"][0]
    assert top["cause"] == cause
    assert top["evidence"] and top["fix"] and 0 < top["confidence"] <= 1
    for command in top["commands"]:
        args = shlex.split(command)
        assert args[0] == "spcs-llm" and check_call(args[1:]) is None, command


def test_the_signature_set_covers_the_issue():
    from spcs_llm.debug import signatures

    names = {s.__name__ for s in signatures.SIGNATURES}
    assert len(names) >= 15 and {cause for _, cause in CASES} == names


def test_healthy_start_up_gets_no_cause(offline, capsys):
    code, data, _ = run_step(capsys, "diagnose", "--from-file", str(EVIDENCE / "healthy.log"))
    assert code == 0 and data["findings"] == [] and data["healthy"] is True


def test_kv_cache_numbers_become_the_replan_command(offline, capsys):
    _, data, _ = run_step(capsys, "diagnose", "--from-file", str(EVIDENCE / "kv_cache_too_small.log"))
    kv = data["findings"][0]
    assert kv["facts"] == {"max_seq_len": 32768, "kv_cache_tokens": 21472, "proposed_max_model_len": 20480}
    assert kv["commands"][0] == "spcs-llm plan --replan --observed-kv-tokens 21472 --max-model-len 20480"
    _, data, _ = run_step(capsys, "diagnose", "--from-file", str(EVIDENCE / "kv_cache_too_small_v1.log"))
    assert data["findings"][0]["facts"]["estimated_max_model_len"] == 21472


def test_kv_cache_is_recorded_in_the_plan_and_the_plan_disagreement_is_named(offline, capsys):
    plan = write_plan(offline / "deployment.yaml", selection__max_model_len=32768, selection__gpu="A10G",
                      selection__gpu_memory_utilization=0.9)
    _, data, _ = run_step(capsys, "diagnose", "--from-file", str(EVIDENCE / "kv_cache_too_small.log"))
    kv = data["findings"][0]
    assert kv["facts"]["recorded_in_plan"] is True and "crash again" in kv["fix"]
    observed = plan_file.get(plan_file.load(plan), "observed.kv_cache")
    assert observed[-1]["kv_cache_tokens"] == 21472 and observed[-1]["model_id"] == "Qwen/Qwen2.5-7B-Instruct"


def test_no_record_leaves_the_plan_alone(offline, capsys):
    plan = write_plan(offline / "deployment.yaml", selection__gpu="A10G", selection__gpu_memory_utilization=0.9)
    before = plan.read_text()
    run_step(capsys, "diagnose", "--from-file", str(EVIDENCE / "kv_cache_too_small.log"), "--no-record")
    assert plan.read_text() == before


def test_several_files_combine_and_the_root_cause_comes_first(offline, capsys):
    code, data, _ = run_step(capsys, "diagnose", "--from-file", str(EVIDENCE / "crash_loop_containers.txt"),
                             "--from-file", str(EVIDENCE / "kv_cache_too_small.log"))
    assert code == 1 and [f["cause"] for f in data["findings"]] == ["kv_cache_too_small", "crash_loop"]
    assert data["sources"][0].endswith("(containers table)")


def test_gated_401_is_not_called_blocked_egress(offline, capsys):
    both = offline / "both.log"
    both.write_text((EVIDENCE / "gated_no_token.log").read_text() +
                    "requests.exceptions.ConnectionError: Max retries exceeded with url: /x (host='huggingface.co')\n")
    _, data, _ = run_step(capsys, "diagnose", "--from-file", str(both))
    assert [f["cause"] for f in data["findings"]] == ["gated_no_token"]


def test_egress_names_the_host(offline, capsys):
    _, data, _ = run_step(capsys, "diagnose", "--from-file", str(EVIDENCE / "egress_blocked.log"))
    assert data["findings"][0]["facts"]["hosts"] == ["huggingface.co"]
    assert "--extra-egress-host huggingface.co" in data["findings"][0]["commands"][0]


def test_loading_is_not_reported_once_the_server_started(offline, capsys):
    log = offline / "later.log"
    log.write_text((EVIDENCE / "loading.log").read_text() + "INFO:     Application startup complete.\n")
    code, data, _ = run_step(capsys, "diagnose", "--from-file", str(log))
    assert code == 0 and data["findings"] == []


def test_step_json_outputs_are_evidence_too(offline, capsys):
    logs_json = offline / "logs.json"
    logs_json.write_text(json.dumps({"container_logs": [{"container_name": "vllm", "run": "previous", "lines": [
        (EVIDENCE / "tp_heads.log").read_text().splitlines()[-1]]}], "event_logs": None, "event_table": None}))
    _, data, _ = run_step(capsys, "diagnose", "--from-file", str(logs_json))
    assert data["findings"][0]["cause"] == "tp_heads"
    assert data["findings"][0]["evidence"][0].startswith("vllm previous run:")


@pytest.mark.parametrize("argv", [["--from-file", "missing.log"], ["--from-file", "x.log", "--since", "forever"]])
def test_bad_input_is_exit_2(offline, capsys, argv):
    from spcs_llm import cli

    (offline / "x.log").write_text("hello\n")
    assert cli.main(["diagnose", *argv]) == 2


def test_diagnose_from_files_does_not_import_snowflake(tmp_path):
    from test_offline_imports import imported

    assert imported(["diagnose", "--from-file", str(EVIDENCE / "kv_cache_too_small.log")], tmp_path) == []


def _metric(name: str, value, attrs=None, container="vllm") -> dict:
    return {"timestamp": "2026-04-02 15:00:00.000", "metric_name": name, "value": str(value), "unit": "",
            "instance_id": 0, "container_name": container, "resource": None, "record": None,
            "record_attributes": attrs}


@pytest.mark.parametrize(("rows", "cause"), [
    ([_metric("container.state.last.finished.reason", 1, {"reason": "FailedWithOOM"})], "oom_killed"),
    ([_metric("container.state.pending.reason", 1, {"reason": "FailedToPullImage"})], "image_pull"),
    ([_metric("network.egress.denied.packets", 42, container=None)], "egress_blocked"),
    ([_metric("container.restarts", 5), _metric("container.state.last.finished.exitcode", 1)], "crash_loop"),
])
def test_platform_metrics_are_evidence(offline, capsys, rows, cause):
    """Metric names and attributes of the SPCS platform metrics (status and network groups)."""
    path = offline / "metrics.json"
    path.write_text(json.dumps(rows))
    code, data, _ = run_step(capsys, "diagnose", "--from-file", str(path))
    assert code == 1 and data["findings"][0]["cause"] == cause and data["findings"][0]["evidence"][0].startswith(
        "metrics:")


def test_status_text_gives_the_service_status(offline, capsys):
    path = offline / "status.txt"
    path.write_text((EVIDENCE / "provisioning_status.txt").read_text().replace("starting (service PENDING",
                                                                              "suspended (service SUSPENDED"))
    _, data, _ = run_step(capsys, "diagnose", "--from-file", str(path))
    assert data["findings"][0]["cause"] == "suspended"
