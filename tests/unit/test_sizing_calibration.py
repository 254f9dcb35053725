"""Sizing reproduces public vLLM start-up logs with the accounting of the release that wrote them,
and never says "does not fit" for a configuration its publisher documents as served.

Every case (URL, vLLM version and how the version is known) is in spcs_llm/sizing_calibration.py:
- vLLM PR #10511 (0.6.5, V0): Meta-Llama-3-8B on an 80 GB GPU at TP=1 and TP=2
- vLLM #10517 (0.6.4, V0): Llama-3.1-8B on an RTX 3090 at 20000 and 29000 tokens
- vLLM #23278 (0.10.1) and #27508 (0.11.0): gpt-oss-120b on an H100
- myoceane.fr (0.19.0): gpt-oss-20b on an A100 80GB
- LMCache #3430 (0.21.0, CUDA graphs in the budget): Qwen3-8B on an RTX A5000
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spcs_llm import catalog, plan_file, sizing_calibration, vllm_versions
from spcs_llm.cli import main
from spcs_llm.errors import SpcsLlmError
from spcs_llm.models import from_config
from spcs_llm.sizing import SizingRequest, size

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("case", sizing_calibration.LOGS, ids=lambda c: f"{c.vllm_version}:{c.label}")
def test_kv_cache_within_max_1gib_or_10_percent_of_the_log(case):
    result = sizing_calibration.predict(case)
    assert result.vllm_version == case.vllm_version
    predicted = sizing_calibration.predicted_kv_gib(result)
    assert abs(predicted - case.logged_kv_gib) <= sizing_calibration.tolerance_gib(case), case.url
    if case.logged_kv_tokens:
        tolerance_tokens = sizing_calibration.tolerance_gib(case) * 2**30 / result.kv_bytes_per_token
        assert abs(result.kv_cache_tokens - case.logged_kv_tokens) <= tolerance_tokens, case.url
    if case.logged_kv_gib < 0:  # the log is a failed start-up: sizing must not call it a fit
        assert not result.fits


@pytest.mark.parametrize("case", sizing_calibration.PUBLISHER_CONFIGS, ids=lambda c: c.label)
def test_publisher_documented_configurations_fit(case):
    result = sizing_calibration.predict(case)
    assert result.fits, (case.url, result.blockers)


def test_docs_show_the_calibration_tables_as_computed():
    text = (ROOT / "docs" / "sizing.md").read_text(encoding="utf-8")
    assert sizing_calibration.markdown_table() in text
    assert sizing_calibration.publisher_table() in text


# -- what each release subtracts (read from the wheels; see vllm_versions.py) ----------------------

@pytest.mark.parametrize("version, kind", [
    ("0.5.0", "v0"), ("0.6.4", "v0"), ("v0.7.3", "v0"), ("0.8.0", "v1-early"), ("0.8.5.post1", "v1-early"),
    ("0.9.0", "v1-early"), ("0.9.1", "v1"), ("0.10.1.1", "v1"), ("0.19.1", "v1"), ("0.20.0", "v1-graphs"),
    ("0.20.2", "v1-graphs"), ("0.33.0", "v1-graphs"),
])
def test_each_release_maps_to_its_accounting(version, kind):
    assert vllm_versions.accounting(version).kind == kind


def test_cuda_graph_profiling_follows_the_environment_switch():
    # VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS arrived in 0.18 (default 0) and defaults to 1 from 0.20.0
    assert vllm_versions.accounting("0.20.2", estimate_cudagraphs=False).kind == "v1"
    assert vllm_versions.accounting("0.18.1", estimate_cudagraphs=True).kind == "v1-graphs"
    assert vllm_versions.accounting("0.17.0", estimate_cudagraphs=True).kind == "v1"


@pytest.mark.parametrize("bad", ["latest", "1", "", "0.4.3"])
def test_unknown_or_unmodelled_versions_are_refused(bad):
    with pytest.raises(SpcsLlmError):
        vllm_versions.accounting(bad)


def test_release_numbers_parse_as_vllm_writes_them():
    assert vllm_versions.parse("0.20") == (0, 20, 0)
    assert vllm_versions.parse("v0.8.5.post1") == (0, 8, 5)
    assert vllm_versions.parse("0.10.2.dev378+g4d7fe40fc") == (0, 10, 2)


def test_the_default_is_the_custom_image_pin():
    dockerfile = (ROOT / "model_image" / "Dockerfile").read_text(encoding="utf-8")
    pinned = re.search(r"ARG VLLM_IMAGE=vllm/vllm-openai:v([\d.]+)", dockerfile).group(1)
    assert vllm_versions.CUSTOM_IMAGE_VLLM_VERSION == pinned
    assert vllm_versions.accounting().version == pinned
    version, source = vllm_versions.default_for_path("registry")
    assert version == pinned and "assumed" in source


def _llama8b():
    return from_config(sizing_calibration.LLAMA31_8B, model_id="meta-llama/Llama-3.1-8B-Instruct", source="config",
                       meta={"params_b": 8.03})


def test_v0_profiles_the_whole_context_while_v1_profiles_a_fixed_batch():
    a10g = catalog.gpu("A10G")
    v0 = [size(SizingRequest(_llama8b(), a10g, max_model_len=n, vllm_version="0.6.4")).activation_gib
          for n in (8192, 16384)]
    v1 = [size(SizingRequest(_llama8b(), a10g, max_model_len=n, vllm_version="0.19.1")).activation_gib
          for n in (8192, 16384)]
    assert v0[1] > v0[0] * 1.8 and v1[0] == v1[1]


def test_cuda_graphs_shrink_the_kv_cache_only_where_the_release_profiles_them():
    h100 = catalog.gpu("H100-80GB")
    before = size(SizingRequest(_llama8b(), h100, max_model_len=8192, gpu_memory_utilization=0.9,
                                vllm_version="0.19.1"))
    after = size(SizingRequest(_llama8b(), h100, max_model_len=8192, gpu_memory_utilization=0.9,
                               vllm_version="0.20.2"))
    assert before.cuda_graph_gib == 0 and before.cuda_graph_outside_gib > 0
    assert after.cuda_graph_gib > 0 and after.cuda_graph_outside_gib == 0
    # and the sampler warm-up got lighter in 0.17 (Triton top-k/top-p instead of a full sort)
    assert after.activation_gib < before.activation_gib * 2
    eager = size(SizingRequest(_llama8b(), h100, max_model_len=8192, vllm_version="0.20.2", enforce_eager=True))
    assert eager.cuda_graph_gib == 0 and eager.kv_cache_gib_per_gpu > after.kv_cache_gib_per_gpu


# -- the CLI --------------------------------------------------------------------------------------

@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_size_reproduces_a_log_from_the_command_line(capsys, workdir):
    # vLLM #10517 (0.6.4): Llama-3.1-8B on an RTX 3090 (23.58 GiB), 20000 tokens -> 1952 blocks (31,232 tokens)
    code = main(["size", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "A10G", "--gpu-memory-gib", "23.58",
                 "--max-model-len", "20000", "--gpu-memory-utilization", "0.9", "--vllm-version", "0.6.4", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["vllm_version"] == "0.6.4" and data["vllm_accounting"] == "v0"
    assert abs(data["kv_cache_tokens"] - 31232) * 131072 <= 2**30
    assert main(["size", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "A10G", "--vllm-version",
                 "latest"]) == 2
    assert "vLLM version 'latest'" in capsys.readouterr().err


def test_plan_records_the_version_it_sized_for(capsys, workdir):
    assert main(["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--max-model-len", "8192",
                 "--json"]) == 0
    capsys.readouterr()
    recorded = plan_file.load(workdir / "deployment.yaml")["request"]
    assert recorded["vllm_version"] == vllm_versions.CUSTOM_IMAGE_VLLM_VERSION
    assert "custom image" in recorded["vllm_version_source"] and recorded["gpu_memory_utilization"] == 0.92
    assert main(["plan", "--replan", "--vllm-version", "0.8.5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["request"]["vllm_version"] == "0.8.5" and data["request"]["vllm_version_source"] == "--vllm-version"
    # a version the user gave is kept by later replans
    assert main(["plan", "--replan", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["request"]["vllm_version"] == "0.8.5"
