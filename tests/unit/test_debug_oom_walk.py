"""Walk oom1: gpt-oss-120b planned on Azure GPU_NV_3M (2x A100 80GB) at TP=1 x 2 crashed at load with a CUDA OOM.
The estimate said TP=1 fits, so `plan --replan` proposes the same layout, and the checkpoint is already mxfp4, so
an AWQ variant saves nothing: the fix diagnose names is the plan's own TP=2 layout on the same family (same cost)."""

from __future__ import annotations

import shlex

import pytest
from snowflake_testkit import prepare_offline, run_step

from spcs_llm.skills_check.commands import check_call

OOM = ("ERROR 12-01 10:43:11 [core.py:700] torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. "
       "GPU 0 has a total capacity of 79.25 GiB of which 1.12 GiB is free. Including non-PyTorch memory, this process "
       "has 78.12 GiB memory in use.")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


def _crashed_log(folder):
    path = folder / "crash.log"
    path.write_text(OOM + "\n" + OOM + "\n")  # both instances of the container log the same line
    return str(path)


def test_cuda_oom_on_a_planned_layout_names_the_same_family_at_a_higher_tp(offline, capsys):
    code, _, _ = run_step(capsys, "plan", "--model", "openai/gpt-oss-120b", "--cloud", "azure", "--region", "UK South")
    assert code == 0
    code, data, _ = run_step(capsys, "select", "--family", "GPU_NV_3M")
    assert code == 0 and data["tensor_parallel_size"] == 1  # the layout that crashed
    code, data, _ = run_step(capsys, "diagnose", "--from-file", _crashed_log(offline))
    top = data["findings"][0]
    assert code == 1 and top["cause"] == "cuda_oom"
    assert top["commands"][0] == "spcs-llm select --family GPU_NV_3M --tp 2"
    assert "same cost" in top["fix"] and "instance count" in top["fix"]
    assert not any("--quantization" in c for c in top["commands"])  # mxfp4 already: AWQ saves nothing
    assert "already quantized" in top["fix"]
    assert len(top["evidence"]) == 1  # the same line from two instances is shown once
    assert top["facts"] == {"family": "GPU_NV_3M", "tensor_parallel_size": 2, "credits_per_hour": 3.55}
    for command in top["commands"]:
        assert check_call(shlex.split(command)[1:]) is None, command


def test_cuda_oom_without_a_plan_keeps_the_generic_fix(offline, capsys):
    code, data, _ = run_step(capsys, "diagnose", "--from-file", _crashed_log(offline))
    top = data["findings"][0]
    assert code == 1 and top["cause"] == "cuda_oom"
    assert "plain re-plan" not in top["fix"] and "spcs-llm plan --replan --quantization awq" in top["commands"]


def test_a_dry_run_answered_by_recordings_does_not_say_nothing_was_read(offline, monkeypatch, capsys):
    from snowflake_testkit import run_text, use_scenarios

    use_scenarios(monkeypatch, offline, "aws_ready", "kv_crash_loop")
    code, out, _ = run_text(capsys, "diagnose", "--service", "LLM_DB.SERVING.LLM_SVC", "--dry-run")
    assert code == 0 and "kv_cache_too_small" in out
    assert "nothing was read" not in out and "come from the replayed recordings" in out
