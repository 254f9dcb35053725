"""Observed KV cache: parsing vLLM's log lines, recording them in the plan, and sizing with them."""

from __future__ import annotations

import json

import pytest

from spcs_llm import catalog, plan_file
from spcs_llm.cli import main
from spcs_llm.errors import SpcsLlmError
from spcs_llm.models import resolve_model
from spcs_llm.observed import find, kv_tokens_from_log, record_observed_kv, vllm_version_from_log
from spcs_llm.sizing import SizingRequest, size

# Line shapes as vLLM prints them (V1: v1/core/kv_cache_utils.py; V0: executor_base.py, the
# "# GPU blocks" line; V0 ModelConfig error for a too-long max_model_len).
V1_LOG = """INFO 05-06 10:00:00 [__init__.py:239] Automatically detected platform cuda.
INFO 05-06 10:00:01 [api_server.py:1043] vLLM API server version 0.8.5
INFO 05-06 10:01:10 [kv_cache_utils.py:634] GPU KV cache size: 434,336 tokens
INFO 05-06 10:01:10 [kv_cache_utils.py:637] Maximum concurrency for 8,192 tokens per request: 53.02x
"""
V0_ERROR = ("ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can be "
            "stored in KV cache (47280). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` "
            "when initializing the engine.")
V0_BLOCKS = "INFO 10-01 12:00:00 gpu_executor.py:122] # GPU blocks: 27153, # CPU blocks: 2048"


def test_reads_the_v1_line_with_thousands_separators():
    assert kv_tokens_from_log(V1_LOG) == 434_336
    assert vllm_version_from_log(V1_LOG) == "0.8.5"


def test_reads_the_v0_error_and_block_lines():
    assert kv_tokens_from_log(V0_ERROR) == 47_280
    assert kv_tokens_from_log(V0_BLOCKS) == 27_153 * 16


def test_the_last_occurrence_wins_across_line_kinds():
    restarted = V1_LOG + V0_ERROR + "\nINFO [kv_cache_utils.py:634] GPU KV cache size: 1,024 tokens\n"
    assert kv_tokens_from_log(restarted) == 1024
    assert kv_tokens_from_log(V1_LOG + V0_ERROR) == 47_280


def test_text_without_a_kv_line_gives_none():
    assert kv_tokens_from_log("INFO Starting vLLM API server on http://0.0.0.0:8000") is None
    assert kv_tokens_from_log("") is None
    assert vllm_version_from_log("no version here") is None


def _plan(tp=1, gmu=0.9, kv="auto"):
    plan = plan_file.new_plan("test")
    return plan_file.update(plan, "test", {
        "model.id": "Qwen/Qwen2.5-7B-Instruct", "selection.gpu": "A10G", "selection.instance_family": "GPU_NV_S",
        "selection.tensor_parallel_size": tp, "selection.gpu_memory_utilization": gmu,
        "selection.kv_cache_dtype": kv})


def test_record_keys_the_observation_by_configuration_and_replaces_the_same_one():
    plan = record_observed_kv(_plan(), 100_000, source="first")
    plan = record_observed_kv(plan, 120_000, source="second")
    entries = plan_file.get(plan, "observed.kv_cache")
    assert len(entries) == 1 and entries[0]["kv_cache_tokens"] == 120_000 and entries[0]["source"] == "second"
    plan_file.update(plan, "test", {"selection.tensor_parallel_size": 2})
    plan = record_observed_kv(plan, 250_000, source="tp2")
    assert [e["tensor_parallel_size"] for e in plan_file.get(plan, "observed.kv_cache")] == [1, 2]
    assert plan_file.validate(plan) == []
    hit = find(plan_file.get(plan, "observed.kv_cache"), model_id="Qwen/Qwen2.5-7B-Instruct", gpu="A10G",
               tensor_parallel_size=1, gpu_memory_utilization=0.9, quantization=None)
    assert hit["kv_cache_tokens"] == 120_000
    assert find(plan_file.get(plan, "observed.kv_cache"), model_id="Qwen/Qwen2.5-7B-Instruct", gpu="A10G",
                tensor_parallel_size=1, gpu_memory_utilization=0.95, quantization=None) is None


@pytest.mark.parametrize("bad", [0, -5, True, "100"])
def test_record_refuses_a_non_positive_count(bad):
    with pytest.raises(SpcsLlmError, match="positive integer"):
        record_observed_kv(_plan(), bad, source="x")


def test_record_needs_a_selected_configuration():
    plan = plan_file.update(plan_file.new_plan("test"), "test", {"model.id": "Qwen/Qwen2.5-7B-Instruct"})
    with pytest.raises(SpcsLlmError, match="selection.gpu"):
        record_observed_kv(plan, 1000, source="x")


def _observations(tokens, kv="auto"):
    return tuple(plan_file.get(record_observed_kv(_plan(kv=kv), tokens, source="log"), "observed.kv_cache"))


def test_sizing_uses_the_observed_tokens_exactly_and_says_so():
    model, gpu = resolve_model("Qwen/Qwen2.5-7B-Instruct"), catalog.gpu("A10G")
    for tokens in (54_321, 80_000, 96_016):
        s = size(SizingRequest(model=model, gpu=gpu, max_model_len=32768, gpu_memory_utilization=0.9,
                               observations=_observations(tokens)))
        assert s.kv_cache_tokens == tokens // 16 * 16  # vLLM counts whole 16-token blocks
        assert s.kv_source == "observed: log"
        assert any("vLLM logged" in r for r in s.reasons)
    other_tp = size(SizingRequest(model=model, gpu=catalog.gpu("A10G"), tensor_parallel_size=2,
                                  gpu_memory_utilization=0.9, observations=_observations(80_000)))
    assert other_tp.kv_source == "estimate"


def test_an_observed_cache_too_small_for_one_request_does_not_fit():
    model, gpu = resolve_model("Qwen/Qwen2.5-7B-Instruct"), catalog.gpu("A10G")
    s = size(SizingRequest(model=model, gpu=gpu, max_model_len=32768, gpu_memory_utilization=0.9,
                           observations=_observations(20_000)))
    assert not s.fits and s.max_model_len_that_fits == 20_000


def test_an_fp8_kv_cache_holds_twice_the_observed_16_bit_tokens():
    model, gpu = resolve_model("Qwen/Qwen2.5-7B-Instruct"), catalog.gpu("A10G")
    s = size(SizingRequest(model=model, gpu=gpu, kv_cache_dtype="fp8", gpu_memory_utilization=0.9,
                           observations=_observations(50_000)))
    assert s.kv_cache_tokens == 100_000


# -- the CLI: plan --replan --observed-kv-tokens / --observed-log ----------------------------------

@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    _run.err = out.err
    try:
        return code, json.loads(out.out)
    except ValueError:
        return code, out.out


def test_plan_records_an_observation_and_uses_it_for_that_configuration(capsys, workdir):
    code, first = _run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws",
                       "--max-model-len", "8192", "--json")
    assert code == 0
    family = first["recommendation"]["instance_family"]
    code, data = _run(capsys, "plan", "--replan", "--observed-kv-tokens", "40000", "--json")
    assert code == 0
    assert data["observed"]["kv_cache_tokens"] == 40_000 and data["observed"]["instance_family"] == family
    same = next(c for c in data["candidates"] if c["instance_family"] == family)
    tp = first["recommendation"]["tensor_parallel_size"]
    option = next(o for o in same["options"] if o["tensor_parallel_size"] == tp)
    assert option["kv_cache_tokens"] == 40_000 and option["kv_source"].startswith("observed")
    plan = plan_file.load(workdir / "deployment.yaml")
    assert plan["observed"]["kv_cache"][0]["kv_cache_tokens"] == 40_000
    # a later replan without the flag keeps using it
    code, again = _run(capsys, "plan", "--replan", "--json")
    same = next(c for c in again["candidates"] if c["instance_family"] == family)
    assert any(o["kv_source"].startswith("observed") for o in same["options"])
    assert f"{family} TP={tp}" in again["kv_observed_for"]
    assert main(["plan", "--replan"]) == 0
    assert "KV cache as the deployment logged it" in capsys.readouterr().out


def _replan_with_saved_log(capsys, workdir):
    """Plan Qwen2.5-7B on AWS, then replan from a saved vLLM 0.8.5 log that logged 61,440 KV tokens."""
    assert _run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws",
                "--max-model-len", "8192", "--json")[0] == 0
    (workdir / "vllm.log").write_text(V1_LOG.replace("434,336", "61,440"))
    code, data = _run(capsys, "plan", "--replan", "--observed-log", "vllm.log", "--json")
    assert code == 0
    return data


def test_plan_reads_the_observation_from_a_saved_log(capsys, workdir):
    data = _replan_with_saved_log(capsys, workdir)
    assert data["observed"]["kv_cache_tokens"] == 61_440 and data["observed"]["vllm_version"] == "0.8.5"
    seen = data["observed"]
    same = next(c for c in data["candidates"] if c["instance_family"] == seen["instance_family"])
    option = next(o for o in same["options"] if o["tensor_parallel_size"] == seen["tensor_parallel_size"])
    assert option["kv_cache_tokens"] == 61_440


def test_plan_observation_flags_are_checked(capsys, workdir):
    assert _run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--observed-kv-tokens", "100",
                "--no-write")[0] == 2
    assert "--replan" in _run.err
    assert _run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--json")[0] == 0
    assert _run(capsys, "plan", "--replan", "--observed-kv-tokens", "0")[0] == 2
    (workdir / "empty.log").write_text("INFO nothing about the cache\n")
    assert _run(capsys, "plan", "--replan", "--observed-log", "empty.log")[0] == 2
    assert "no vLLM KV cache line" in _run.err
    assert _run(capsys, "plan", "--replan", "--observed-log", "missing.log")[0] == 2
    assert "observed" not in plan_file.load(workdir / "deployment.yaml")


def test_a_log_that_names_its_vllm_release_sets_the_plans_accounting(capsys, workdir):
    # the registry path's release is only assumed (Snowflake does not publish it); a start-up log that
    # prints "vLLM API server version X" replaces the assumption for the whole plan
    data = _replan_with_saved_log(capsys, workdir)
    assert data["request"]["vllm_version"] == "0.8.5"
    assert data["request"]["vllm_version_source"].startswith("logged by the deployment")
    # an explicit --vllm-version still wins
    code, data = _run(capsys, "plan", "--replan", "--vllm-version", "0.19.1", "--json")
    assert code == 0 and data["request"]["vllm_version"] == "0.19.1"


def test_an_observation_of_a_quantized_checkpoint_applies_to_it():
    # the plan records no --quantization for a pre-quantized checkpoint (its config carries the method),
    # while sizing resolves the checkpoint's own method: both mean the same configuration
    awq = resolve_model("Qwen/Qwen2.5-7B-Instruct-AWQ")
    plan = plan_file.update(plan_file.new_plan("test"), "test", {
        "model.id": awq.id, "selection.gpu": "A10G", "selection.tensor_parallel_size": 1,
        "selection.gpu_memory_utilization": 0.9})
    seen = tuple(plan_file.get(record_observed_kv(plan, 70_000, source="log"), "observed.kv_cache"))
    s = size(SizingRequest(model=awq, gpu=catalog.gpu("A10G"), gpu_memory_utilization=0.9, observations=seen))
    assert s.quantization == "awq" and s.kv_source == "observed: log" and s.kv_cache_tokens == 70_000
    online = size(SizingRequest(model=resolve_model("Qwen/Qwen2.5-7B-Instruct"), gpu=catalog.gpu("L4"),
                                quantization="fp8", gpu_memory_utilization=0.9, observations=seen))
    assert online.kv_source == "estimate"
