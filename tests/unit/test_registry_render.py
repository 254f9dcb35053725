"""The rendered deployment script: golden files, valid Python, vLLM arguments in the one-item form
Snowflake passes through (never a block-listed flag), and no secret in any rendered file.

After an intended change, update the golden files: SPCS_LLM_UPDATE_GOLDEN=1 pytest tests/unit/test_registry_render.py
"""

from __future__ import annotations

import ast
import os
import py_compile
import re

import pytest
from registry_testkit import FAKE_HF_TOKEN, GOLDEN_DIR, golden_cases, make_plan, make_snapshot, render_case

from spcs_llm.errors import SpcsLlmError
from spcs_llm.redact import register_secret
from spcs_llm.registry.engine_args import VLLM_BLOCKED_ARGS, build_engine_args, flag_of
from spcs_llm.registry.script import write_script
from spcs_llm.registry.spec import Choices, build_spec

CASES = golden_cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_script(name):
    plan, choices = CASES[name]
    text = render_case(plan, choices)
    golden = GOLDEN_DIR / f"{name}.py.golden"
    if os.environ.get("SPCS_LLM_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"missing {golden}; render it with SPCS_LLM_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), f"{name}: rendered script differs from {golden}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_script_compiles(name, tmp_path):
    plan, choices = CASES[name]
    spec = build_spec(plan, "deployment.yaml", choices)
    paths, _ = write_script(spec, tmp_path)
    py_compile.compile(str(paths.script), doraise=True)
    assert os.access(paths.script, os.X_OK)


def test_snapshot_route_compiles_and_names_the_folder(tmp_path):
    snap = make_snapshot(tmp_path)
    spec = build_spec(make_plan(), "deployment.yaml", Choices(snapshot_dir=str(snap)))
    paths, text = write_script(spec, tmp_path / "out")
    py_compile.compile(str(paths.script), doraise=True)
    assert f"SNAPSHOT_DIR = {str(snap)!r}" in text
    assert "pipeline.repo_snapshot_dir = SNAPSHOT_DIR" in text
    assert "signatures=chat_signature()" in text


def _engine_args_in(text: str) -> list[str]:
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ENGINE_ARGS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("no ENGINE_ARGS in the rendered script")


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_args_are_one_item_flags_and_never_blocked(name):
    plan, choices = CASES[name]
    args = _engine_args_in(render_case(plan, choices))
    tp = plan["workers"]["tensor_parallel_size"]
    assert args[:3] == [f"--tensor-parallel-size={tp}", f"--max-model-len={plan['selection']['max_model_len']}",
                        f"--gpu-memory-utilization={plan['selection']['gpu_memory_utilization']}"]
    for arg in args:
        assert arg.startswith("--") and " " not in arg, arg
        assert flag_of(arg) not in VLLM_BLOCKED_ARGS, arg
    assert len({flag_of(a) for a in args}) == len(args), "a flag appears twice"


def test_tp4_case_keeps_the_plans_extra_flags():
    plan, choices = CASES["tp4_gpu_nv_m"]
    args = _engine_args_in(render_case(plan, choices))
    assert args[3:] == ["--enable-prefix-caching", "--max-num-seqs=64"]


@pytest.mark.parametrize("blocked", sorted(VLLM_BLOCKED_ARGS))
def test_a_block_listed_flag_in_the_plan_is_refused(blocked):
    plan = make_plan(vllm_args=["--tensor-parallel-size=1", f"{blocked}=x"])
    with pytest.raises(SpcsLlmError, match="block-list"):
        build_spec(plan, "deployment.yaml", Choices())


def test_underscore_spelling_of_a_blocked_flag_is_refused_too():
    with pytest.raises(SpcsLlmError, match="block-list"):
        build_engine_args(tensor_parallel_size=1, max_model_len=4096, gpu_memory_utilization=0.9,
                          extra=["--api_key=abc"])


@pytest.mark.parametrize("bad", [["--max-num-seqs", "64"], ["max-num-seqs=64"], ["--max-num-seqs 64"]])
def test_a_separate_value_item_is_refused(bad):
    with pytest.raises(SpcsLlmError, match="--flag=value"):
        build_engine_args(tensor_parallel_size=1, max_model_len=4096, gpu_memory_utilization=0.9, extra=bad)


def test_sizing_fields_win_over_stale_flags_in_vllm_args():
    args, notes = build_engine_args(tensor_parallel_size=4, max_model_len=8192, gpu_memory_utilization=0.9,
                                    extra=["--tensor-parallel-size=2", "--max-model-len=8192", "--dtype=half"])
    assert args == ["--tensor-parallel-size=4", "--max-model-len=8192", "--gpu-memory-utilization=0.9", "--dtype=half"]
    assert len(notes) == 1 and "--tensor-parallel-size=2" in notes[0]


def test_conflicting_duplicates_in_vllm_args_are_refused():
    with pytest.raises(SpcsLlmError, match="twice"):
        build_engine_args(tensor_parallel_size=1, max_model_len=4096, gpu_memory_utilization=0.9,
                          extra=["--dtype=bfloat16", "--dtype=float16"])


def test_without_vllm_args_dtype_and_quantization_come_from_the_selection():
    args, _ = build_engine_args(tensor_parallel_size=2, max_model_len=4096, gpu_memory_utilization=0.85,
                                dtype="bfloat16", quantization="awq", kv_cache_dtype="fp8")
    assert args == ["--tensor-parallel-size=2", "--max-model-len=4096", "--gpu-memory-utilization=0.85",
                    "--dtype=bfloat16", "--quantization=awq", "--kv-cache-dtype=fp8"]
    with pytest.raises(SpcsLlmError, match="--dtype"):
        build_engine_args(tensor_parallel_size=1, max_model_len=4096, gpu_memory_utilization=0.9, dtype="int4")


def test_tp_larger_than_gpu_requests_is_refused():
    plan = make_plan(gpus=4, tp=4)
    plan["workers"]["gpu_requests"] = 2
    with pytest.raises(SpcsLlmError, match="needs 4 GPUs"):
        build_spec(plan, "deployment.yaml", Choices())


def test_no_secret_value_in_any_rendered_file(tmp_path, monkeypatch):
    """The HF token lives in the environment; only the SECRET's name reaches the script."""
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    register_secret(FAKE_HF_TOKEN)
    plan, choices = CASES["tp4_gpu_nv_m"]
    spec = build_spec(plan, "deployment.yaml", choices)
    paths, text = write_script(spec, tmp_path)
    assert 'HF_SECRET = "ML.LLMS.HF_TOKEN_SECRET"' in text
    assert "token_or_secret=HF_SECRET" in text
    for file in tmp_path.rglob("*"):
        if file.is_file():
            content = file.read_text(encoding="utf-8")
            assert FAKE_HF_TOKEN not in content, file
            assert not re.search(r"\bhf_[A-Za-z0-9]{20,}", content), file


def test_a_token_passed_as_secret_name_is_refused():
    with pytest.raises(SpcsLlmError, match="looks like a Hugging Face token"):
        build_spec(make_plan(), "deployment.yaml", Choices(hf_secret=FAKE_HF_TOKEN))


@pytest.mark.parametrize("value, expected", [
    ("HF_TOKEN", "ML.LLMS.HF_TOKEN"), ("SECRETS.HF", "ML.SECRETS.HF"), ("OPS.SECRETS.HF", "OPS.SECRETS.HF"),
])
def test_secret_names_are_fully_qualified(value, expected):
    spec = build_spec(make_plan(), "deployment.yaml", Choices(hf_secret=value))
    assert spec.hf_secret == expected


@pytest.mark.parametrize("value, expected", [
    ("TINYLLAMA-1.1B-CHAT-V1.0-20260902", '"TINYLLAMA-1.1B-CHAT-V1.0-20260902"'),
    ("SNOWFLAKE.MODELS.LLAMA3_8B", "LLAMA3_8B"),
    ("llama3_8b", "LLAMA3_8B"),
])
def test_pre_logged_names_are_written_as_get_model_parses_them(value, expected):
    spec = build_spec(make_plan(), "deployment.yaml", Choices(pre_logged=value))
    assert spec.model_name == expected and spec.source == "pre-logged"
    assert spec.model_fqn == f"SNOWFLAKE.MODELS.{expected}"


def test_snapshot_dir_must_hold_a_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpcsLlmError, match="config.json"):
        build_spec(make_plan(), "deployment.yaml", Choices(snapshot_dir=str(tmp_path / "empty")))
    with pytest.raises(SpcsLlmError, match="not a directory"):
        build_spec(make_plan(), "deployment.yaml", Choices(snapshot_dir=str(tmp_path / "missing")))


def test_routes_cannot_be_mixed(tmp_path):
    snap = make_snapshot(tmp_path)
    with pytest.raises(SpcsLlmError, match="cannot be combined"):
        build_spec(make_plan(), "deployment.yaml", Choices(snapshot_dir=str(snap), hf_secret="HF"))
    with pytest.raises(SpcsLlmError, match="cannot be combined"):
        build_spec(make_plan(), "deployment.yaml", Choices(pre_logged="X", hf_secret="HF"))


def test_missing_target_names_the_flag_and_the_step():
    plan = make_plan()
    del plan["snowflake"]["compute_pool"]
    with pytest.raises(SpcsLlmError, match="--compute-pool") as err:
        build_spec(plan, "deployment.yaml", Choices())
    assert "spcs-llm create-pool --name" in err.value.hint  # preflight does not record the pool
    spec = build_spec(plan, "deployment.yaml", Choices(compute_pool="OTHER_POOL"))
    assert spec.compute_pool == "OTHER_POOL"


def test_num_workers_one_is_left_to_the_gpu_default():
    spec = build_spec(make_plan(), "deployment.yaml", Choices())
    assert spec.num_workers is None and "num_workers" not in spec.create_service_kwargs()
    plan = make_plan()
    plan["workers"]["num_workers"] = 2
    spec = build_spec(plan, "deployment.yaml", Choices())
    assert spec.create_service_kwargs()["num_workers"] == 2
    assert any("num_workers" in w for w in spec.warnings)


def test_utilization_fallback_is_the_sized_releases_default():
    """A plan without gpu_memory_utilization gets the default of the vLLM release it was sized for
    (0.92 from 0.20, vllm/config/cache.py), not a fixed 0.9."""
    plan = make_plan()
    for section in ("selection", "request"):
        plan.get(section, {}).pop("gpu_memory_utilization", None)
    plan.setdefault("request", {})["vllm_version"] = "0.20.2"
    spec = build_spec(plan, "deployment.yaml", Choices())
    assert "--gpu-memory-utilization=0.92" in spec.engine_args
    assert spec.sources["gpu_memory_utilization"] == "vLLM 0.20.2 default"
    plan["request"]["vllm_version"] = "0.10.1"
    assert "--gpu-memory-utilization=0.9" in build_spec(plan, "deployment.yaml", Choices()).engine_args
