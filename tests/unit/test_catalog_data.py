"""Checks on the catalog data files (gpus.yaml, instance_families.yaml, models.yaml).

These catch data mistakes: a wrong GPU behind a family, a per-instance GPU memory typed where the
per-GPU figure belongs, a head_dim derived where the config sets it, a wrong intermediate_size
(caught through the parameter count), a KV size that disagrees with the research table.
"""

from __future__ import annotations

import re

import pytest

from spcs_llm import catalog
from spcs_llm.models import _checkpoint_quantization

GPUS = catalog.gpus()
FAMILIES = catalog.instance_families()
MODELS = catalog.models()
CLI_GPU_NAMES = ("T4", "A10G", "A10", "L4", "L40S", "A100-40GB", "A100-80GB", "H100-80GB", "RTX-PRO-6000")
QUANT_METHODS = {"fp8", "int8", "awq", "gptq", "mxfp4", "bitsandbytes", "gguf"}

# kv B/tok = 2 * layers * kv_heads * head_dim * 2 bytes (bf16, TP=1, every layer counted as full attention),
# copied from the "kv B/tok" column of /work/shared/reference/llm_sizing.md §4. The glm-4-9b-chat row of the
# table has the same shapes as the native THUDM/glm-4-9b-chat-hf port catalogued here.
LLM_SIZING_KV_BYTES_PER_TOKEN = {
    "Qwen/Qwen2.5-0.5B-Instruct": 12_288,
    "Qwen/Qwen2.5-1.5B-Instruct": 28_672,
    "Qwen/Qwen2.5-3B-Instruct": 36_864,
    "Qwen/Qwen2.5-7B-Instruct": 57_344,
    "Qwen/Qwen2.5-14B-Instruct": 196_608,
    "Qwen/Qwen2.5-32B-Instruct": 262_144,
    "Qwen/Qwen2.5-72B-Instruct": 327_680,
    "Qwen/Qwen3-0.6B": 114_688,
    "Qwen/Qwen3-1.7B": 114_688,
    "Qwen/Qwen3-8B": 147_456,
    "Qwen/Qwen3-14B": 163_840,
    "Qwen/Qwen3-32B": 262_144,
    "Qwen/Qwen3-30B-A3B": 98_304,
    "Qwen/Qwen3-235B-A22B": 192_512,
    "meta-llama/Llama-3.1-8B-Instruct": 131_072,
    "meta-llama/Llama-3.1-70B-Instruct": 327_680,
    "meta-llama/Llama-3.2-1B-Instruct": 32_768,
    "meta-llama/Llama-3.2-3B-Instruct": 114_688,
    "mistralai/Mistral-7B-Instruct-v0.3": 131_072,
    "mistralai/Mixtral-8x7B-Instruct-v0.1": 131_072,
    "mistralai/Mistral-Small-24B-Instruct-2501": 163_840,
    "google/gemma-2-9b-it": 344_064,
    "google/gemma-2-27b-it": 376_832,
    "google/gemma-3-4b-it": 139_264,
    "google/gemma-3-12b-it": 393_216,
    "google/gemma-3-27b-it": 507_904,
    "microsoft/Phi-3.5-mini-instruct": 393_216,
    "microsoft/phi-4": 204_800,
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": 57_344,
    "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": 327_680,
    "openai/gpt-oss-20b": 49_152,
    "openai/gpt-oss-120b": 73_728,
    "THUDM/glm-4-9b-chat-hf": 40_960,
}


def _text(config: dict) -> dict:
    """The LLM part of a config (Gemma-3 nests it under text_config)."""
    return {**{k: v for k, v in config.items() if k != "text_config"}, **config.get("text_config", {})}


def _head_dim(cfg: dict) -> int:
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def _counted_params_b(cfg: dict, active: bool = False) -> float:
    """Parameters implied by the shapes: attention, gated MLP / experts, embeddings (norms and biases ignored)."""
    h, hd = cfg["hidden_size"], _head_dim(cfg)
    attention = 2 * h * cfg["num_attention_heads"] * hd + 2 * h * cfg["num_key_value_heads"] * hd
    experts = cfg.get("num_local_experts") or cfg.get("num_experts") or 0
    if experts:
        width = cfg.get("moe_intermediate_size") or cfg["intermediate_size"]
        used = cfg["num_experts_per_tok"] if active else experts
        mlp = used * 3 * h * width + h * experts
    else:
        mlp = 3 * h * cfg["intermediate_size"]
    embeddings = cfg["vocab_size"] * h * (1 if cfg.get("tie_word_embeddings") else 2)
    return (cfg["num_hidden_layers"] * (attention + mlp) + embeddings) / 1e9


# -- whole-file checks ----------------------------------------------------------------------------

def test_validator_finds_no_problems():
    assert catalog.validate_catalogs() == []


def test_catalogs_hold_the_expected_entries():
    assert set(CLI_GPU_NAMES) <= set(GPUS)
    assert {f.cloud for f in FAMILIES} == set(catalog.CLOUDS)
    assert len(MODELS) >= 30


def test_every_entry_names_its_sources():
    missing = [f"gpu {name}" for name, g in GPUS.items() if not g.sources]
    missing += [f"family {f.cloud}/{f.name}" for f in FAMILIES if not f.sources]
    missing += [f"model {mid}" for mid, m in MODELS.items() if not m.get("sources")]
    assert missing == []


# -- GPUs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(GPUS))
def test_gpu_numbers_are_plausible(name):
    g = GPUS[name]
    assert 0 < g.torch_total_gib <= g.memory_gb
    assert g.torch_total_gib > 0.85 * g.memory_gb, "torch sees most of the card"
    assert g.bandwidth_gb_s > 0 and g.dense_fp16_tflops > 0


@pytest.mark.parametrize("name", sorted(GPUS))
def test_bf16_is_missing_exactly_below_compute_capability_8(name):
    g = GPUS[name]
    assert ("bfloat16" in g.dtypes) == (g.compute_capability >= 8.0)
    assert (g.dense_bf16_tflops is None) == (g.compute_capability < 8.0)
    assert "float16" in g.dtypes


@pytest.mark.parametrize("name", sorted(GPUS))
def test_quantization_follows_the_vllm_hardware_table(name):
    g, cc = GPUS[name], GPUS[name].compute_capability
    assert set(g.quantization) <= QUANT_METHODS
    assert (g.quantization.get("fp8") == "native") == (cc >= 8.9), "FP8 W8A8 needs Ada or newer"
    if cc < 8.0:  # no Marlin: no FP8 (not even weight-only) and no MXFP4
        assert "fp8" not in g.quantization and "mxfp4" not in g.quantization
    else:
        assert g.quantization.get("fp8") in ("native", "weight_only")
        assert g.quantization.get("mxfp4") == "weight_only"
    assert g.quantization.get("awq") == "weight_only" and g.quantization.get("gptq") == "weight_only"


def test_t4_is_the_only_turing_gpu_and_serves_fp16():
    assert [n for n, g in GPUS.items() if g.compute_capability < 8.0] == ["T4"]
    assert GPUS["T4"].dtypes == ("float16", "float32")


# -- instance families ----------------------------------------------------------------------------

def test_family_names_are_unique_per_cloud():
    keys = [(f.cloud, f.name) for f in FAMILIES]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("fam", FAMILIES, ids=lambda f: f"{f.cloud}-{f.name}")
def test_family_numbers_are_plausible(fam):
    assert fam.credits_per_hour > 0
    assert fam.vcpu > 0 and fam.memory_gib > fam.vcpu  # at least ~1 GiB per vCPU in every family
    assert fam.node_limit is None or fam.node_limit > 0
    assert fam.generation in ("current", "previous")
    assert fam.china in ("yes", "no", "unverified")
    if fam.cloud == "gcp":
        assert fam.generation == "current", "GCP has no previous-generation families"


@pytest.mark.parametrize("fam", [f for f in FAMILIES if f.is_gpu], ids=lambda f: f"{f.cloud}-{f.name}")
def test_gpu_memory_is_per_gpu_and_matches_the_gpu_catalog(fam):
    gpu = GPUS[fam.gpu]
    assert fam.gpu_memory_gib == gpu.memory_gb, "gpu_memory_gib must be the per-GPU figure"
    assert fam.name.startswith("GPU_")


@pytest.mark.parametrize("fam", [f for f in FAMILIES if not f.is_gpu], ids=lambda f: f"{f.cloud}-{f.name}")
def test_cpu_families_have_no_gpu(fam):
    assert fam.gpu is None and fam.gpu_count == 0 and fam.gpu_memory_gib is None
    assert not fam.name.startswith("GPU_")


@pytest.mark.parametrize(("cloud", "name", "gpu", "count"), [
    ("aws", "GPU_NV_S", "A10G", 1),
    ("aws", "GPU_NV_M", "A10G", 4),
    ("aws", "GPU_NV_L", "A100-40GB", 8),
    ("aws", "GPU_L40S_G1_48", "L40S", 4),
    ("aws", "GPU_R6K_G1_192", "RTX-PRO-6000", 8),
    ("azure", "GPU_NV_XS", "T4", 1),
    ("azure", "GPU_NV_SL", "A100-80GB", 4),
    ("gcp", "GPU_GCP_NV_L4_4_24G", "L4", 4),
    ("gcp", "GPU_GCP_NV_A100_8_40G", "A100-40GB", 8),
])
def test_documented_gpu_families(cloud, name, gpu, count):
    fam = catalog.family(name, cloud)
    assert (fam.gpu, fam.gpu_count) == (gpu, count)


def test_china_availability_flags():
    aws = {f.name: f for f in FAMILIES if f.cloud == "aws"}
    assert aws["GPU_NV_S"].china == aws["GPU_NV_M"].china == "unverified"
    assert "T4" in aws["GPU_NV_S"].notes, "the third-party T4 claim must stay visible"
    for name in ("CPU_X64_XS", "CPU_X64_S", "CPU_X64_M", "CPU_X64_L", "HIGHMEM_X64_S", "HIGHMEM_X64_M",
                 "HIGHMEM_X64_L"):
        assert aws[name].china == "yes" and aws[name].available_in("cn-northwest-1")
    for fam in aws.values():
        if fam.name.startswith(("GEN_", "MEM_", "GPU_L40S", "GPU_R6K")) or fam.name in ("CPU_X64_SL", "GPU_NV_L"):
            assert fam.china == "no" and not fam.available_in("cn-northwest-1")
    assert all(f.china == "no" for f in FAMILIES if f.cloud != "aws"), "China is an AWS-only region"


def test_region_lists_use_region_ids():
    aws_id = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    gcp_id = re.compile(r"^[a-z]+-[a-z]+\d$")
    for fam in FAMILIES:
        regions = fam.regions_only + fam.regions_excluded
        assert not (fam.regions_only and fam.regions_excluded)
        if fam.cloud == "aws":
            assert all(aws_id.match(r) for r in regions), (fam.name, regions)
        if fam.cloud == "gcp":
            assert all(gcp_id.match(r) for r in regions), (fam.name, regions)


def test_l40s_family_is_limited_to_its_documented_regions():
    fam = catalog.family("GPU_L40S_G1_8", "aws")
    assert fam.available_in("us-west-2") and not fam.available_in("ap-southeast-1")


# -- models ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mid", sorted(MODELS))
def test_model_entry_fields(mid):
    m = MODELS[mid]
    assert m["confidence"] in ("confirmed", "memory")
    assert set(m["tasks"]) <= {"chat", "vision"} and "chat" in m["tasks"]
    assert m["licence"] and m["languages"]
    assert isinstance(m["gated"], bool) and isinstance(m["trust_remote_code"], bool)
    assert m["confidence"] == "confirmed" or m.get("notes"), "memory entries must say what is unconfirmed"


@pytest.mark.parametrize("mid", sorted(MODELS))
def test_attention_shapes_are_consistent(mid):
    cfg = _text(MODELS[mid]["config"])
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    assert heads % kv == 0
    head_dim = _head_dim(cfg)
    assert head_dim in (64, 80, 96, 128, 256)
    if "head_dim" not in cfg:
        assert cfg["hidden_size"] % heads == 0
    # query width may differ from hidden_size (Qwen3, Gemma, gpt-oss, Mistral-Small) but not wildly
    assert 0.5 <= heads * head_dim / cfg["hidden_size"] <= 2.0


@pytest.mark.parametrize("mid", [m for m in sorted(MODELS) if "layer_types" in _text(MODELS[m]["config"])])
def test_layer_types_cover_every_layer(mid):
    cfg = _text(MODELS[mid]["config"])
    assert len(cfg["layer_types"]) == cfg["num_hidden_layers"]
    assert set(cfg["layer_types"]) <= {"sliding_attention", "full_attention"}
    assert cfg.get("sliding_window"), "sliding layers need a window"


def test_hybrid_attention_patterns():
    for mid in ("google/gemma-2-9b-it", "openai/gpt-oss-20b"):
        types = _text(MODELS[mid]["config"])["layer_types"]
        assert types[0] == "sliding_attention" and types.count("full_attention") * 2 == len(types)
    gemma3 = _text(MODELS["google/gemma-3-27b-it"]["config"])
    assert gemma3["sliding_window_pattern"] == 6 and gemma3["sliding_window"] == 1024


def test_kv_bytes_per_token_match_llm_sizing_table():
    assert len(LLM_SIZING_KV_BYTES_PER_TOKEN) >= 10
    for mid, published in LLM_SIZING_KV_BYTES_PER_TOKEN.items():
        cfg = _text(MODELS[mid]["config"])
        computed = 2 * cfg["num_hidden_layers"] * cfg["num_key_value_heads"] * _head_dim(cfg) * 2
        assert computed == published, mid


@pytest.mark.parametrize("mid", sorted(MODELS))
def test_shapes_reproduce_the_published_parameter_count(mid):
    m = MODELS[mid]
    counted = _counted_params_b(_text(m["config"]))
    if "vision" in m["tasks"]:  # params_b includes the vision tower, the shapes do not
        assert 0.85 * m["params_b"] <= counted <= 1.01 * m["params_b"]
    else:
        assert counted == pytest.approx(m["params_b"], rel=0.03)


@pytest.mark.parametrize("mid", [m for m in sorted(MODELS) if "active_params_b" in MODELS[m]])
def test_moe_entries(mid):
    m = MODELS[mid]
    cfg = _text(m["config"])
    experts = cfg.get("num_local_experts") or cfg.get("num_experts")
    assert experts > cfg["num_experts_per_tok"] >= 1
    assert m["active_params_b"] < m["params_b"]
    # publishers differ on counting embeddings in the active figure (gpt-oss leaves them out)
    assert _counted_params_b(cfg, active=True) == pytest.approx(m["active_params_b"], rel=0.2)


@pytest.mark.parametrize("mid", sorted(MODELS))
def test_checkpoint_quantization_matches_the_config(mid):
    m = MODELS[mid]
    quant = m["config"].get("quantization_config")
    if m["checkpoint_quantization"] is None:
        assert quant is None
    else:
        # FP8 checkpoints made with llm-compressor say compressed-tensors; the parser reads the method
        assert _checkpoint_quantization(quant)[0] == m["checkpoint_quantization"]
        assert m["checkpoint_quantization"] in QUANT_METHODS


def test_gated_publishers_are_marked_gated():
    for mid, m in MODELS.items():
        if mid.startswith(("meta-llama/", "google/gemma")):
            assert m["gated"], mid


def test_qwen3_and_gemma_set_head_dim_explicitly():
    for mid, m in MODELS.items():
        cfg = _text(m["config"])
        if cfg["model_type"] in ("qwen3", "qwen3_moe", "gemma2", "gemma3_text", "gpt_oss"):
            assert "head_dim" in cfg, mid
