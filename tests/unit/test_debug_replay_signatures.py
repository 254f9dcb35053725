"""Each log- and event-shaped signature, served as the account would serve it: the healthy `aws_ready`
service with the signature's log lines as the model container's SYSTEM$GET_SERVICE_LOGS and
SPCS_GET_LOGS rows, or its rows as the SPCS_GET_EVENTS answer. `diagnose --service` (the live path,
replayed) must name the same cause as `diagnose --from-file` does for the saved evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from snowflake_testkit import RECORDED, prepare_offline, run_step, use_scenarios

EVIDENCE = Path(__file__).parents[1] / "fixtures" / "evidence"
SERVICE = ["--service", "LLM_DB.SERVING.LLM_SVC", "--no-record"]
CONTAINER = "model-inference"

LOG_CASES = [
    ("kv_cache_too_small.log", "kv_cache_too_small"),
    ("kv_cache_too_small_v1.log", "kv_cache_too_small"),
    ("cuda_oom.log", "cuda_oom"),
    ("shm_nccl.log", "shm_nccl"),
    ("tp_heads.log", "tp_heads"),
    ("dtype_unsupported.log", "dtype_unsupported"),
    ("quantization_unsupported.log", "quantization_unsupported"),
    ("egress_blocked.log", "egress_blocked"),
    ("gated_no_token.log", "gated_no_token"),
]
EVENT_CASES = [
    ("image_pull_events.json", "image_pull"),
    ("oom_killed_events.json", "oom_killed"),
    ("readiness_failing_events.json", "readiness_failing"),
]


@pytest.fixture
def replay(monkeypatch, tmp_path):
    prepare_offline(monkeypatch, tmp_path)
    return use_scenarios(monkeypatch, tmp_path, "aws_ready")


def _rewrite(replay_dir: Path, statement_part: str, rows: list[dict]) -> int:
    """Replace the rows of every recording whose statement contains statement_part; how many."""
    changed = 0
    for file in replay_dir.glob("*.json"):
        recording = json.loads(file.read_text())
        if statement_part in recording.get("statement", "") and "rows" in recording:
            recording["rows"] = rows
            file.write_text(json.dumps(recording))
            changed += 1
    return changed


def test_the_healthy_base_has_no_cause(replay, capsys):
    code, data, _ = run_step(capsys, "diagnose", *SERVICE)
    assert (code, data["findings"]) == (0, [])
    assert (RECORDED / "aws_ready").is_dir()


@pytest.mark.parametrize(("name", "cause"), LOG_CASES)
def test_log_signature_from_the_account(replay, capsys, name, cause):
    lines = (EVIDENCE / name).read_text().splitlines()
    assert _rewrite(replay, f"SYSTEM$GET_SERVICE_LOGS('LLM_DB.SERVING.LLM_SVC', '0', '{CONTAINER}'",
                    [{"log_line": line} for line in lines]) >= 1
    _rewrite(replay, "!SPCS_GET_LOGS(", [
        {"timestamp": "2026-04-02 15:30:00.000", "instance_id": 0, "container_name": CONTAINER, "log": line,
         "record_attributes": {"log.iostream": "stdout"}} for line in lines])
    code, data, _ = run_step(capsys, "diagnose", *SERVICE)
    assert code == 1, data
    assert cause in [f["cause"] for f in data["findings"]]


@pytest.mark.parametrize(("name", "cause"), EVENT_CASES)
def test_event_signature_from_the_account(replay, capsys, name, cause):
    saved = json.loads((EVIDENCE / name).read_text())
    rows = saved["rows"] if isinstance(saved, dict) else saved  # a bare list, or {"_note", "rows"}
    assert _rewrite(replay, "!SPCS_GET_EVENTS(", rows) >= 1
    code, data, _ = run_step(capsys, "diagnose", *SERVICE)
    assert code == 1, data
    assert cause in [f["cause"] for f in data["findings"]]
