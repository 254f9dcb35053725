"""The sizing engine against vLLM's own formulas and published figures.

Published figures (cited per test): vLLM startup errors quoted in public logs, measured weight
sizes, and the reference notes in ../shared/reference/llm_sizing.md.
"""

from __future__ import annotations

import pytest

from spcs_llm import catalog, sizing
from spcs_llm.errors import SpcsLlmError
from spcs_llm.models import from_config
from spcs_llm.sizing import SizingRequest, kv_layout, size, valid_tp_sizes

QWEN25_7B = dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2", num_hidden_layers=28, hidden_size=3584,
                 intermediate_size=18944, num_attention_heads=28, num_key_value_heads=4, vocab_size=152064,
                 max_position_embeddings=32768, torch_dtype="bfloat16", sliding_window=131072,
                 use_sliding_window=False, max_window_layers=28)
QWEN25_14B_LONG = dict(QWEN25_7B, num_hidden_layers=48, hidden_size=5120, intermediate_size=13824,
                       num_attention_heads=40, num_key_value_heads=8, max_position_embeddings=131072)
QWEN3_8B = dict(architectures=["Qwen3ForCausalLM"], model_type="qwen3", num_hidden_layers=36, hidden_size=4096,
                intermediate_size=12288, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                vocab_size=151936, max_position_embeddings=40960, torch_dtype="bfloat16")
QWEN3_32B = dict(QWEN3_8B, num_hidden_layers=64, hidden_size=5120, intermediate_size=25600, num_attention_heads=64)
QWEN3_235B = dict(QWEN3_8B, num_hidden_layers=94, num_attention_heads=64, num_key_value_heads=4,
                  num_experts=128, num_experts_per_tok=8, moe_intermediate_size=1536)
LLAMA31_8B = dict(architectures=["LlamaForCausalLM"], num_hidden_layers=32, hidden_size=4096, intermediate_size=14336,
                  num_attention_heads=32, num_key_value_heads=8, vocab_size=128256, max_position_embeddings=131072,
                  torch_dtype="bfloat16")
LLAMA31_70B = dict(LLAMA31_8B, num_hidden_layers=80, hidden_size=8192, intermediate_size=28672,
                   num_attention_heads=64)
MIXTRAL = dict(LLAMA31_8B, vocab_size=32000, max_position_embeddings=32768, num_local_experts=8,
               num_experts_per_tok=2)
GPT_OSS_20B = dict(architectures=["GptOssForCausalLM"], num_hidden_layers=24, hidden_size=2880,
                   intermediate_size=2880, num_attention_heads=64, num_key_value_heads=8, head_dim=64,
                   vocab_size=201088, max_position_embeddings=131072, torch_dtype="bfloat16", sliding_window=128,
                   num_local_experts=32, num_experts_per_tok=4,
                   layer_types=["sliding_attention", "full_attention"] * 12,
                   quantization_config={"quant_method": "mxfp4"})
GPT_OSS_120B = dict(GPT_OSS_20B, num_hidden_layers=36, num_local_experts=128,
                    layer_types=["sliding_attention", "full_attention"] * 18)
GEMMA3_27B = dict(architectures=["Gemma3ForConditionalGeneration"], torch_dtype="bfloat16",
                  text_config=dict(model_type="gemma3_text", num_hidden_layers=62, hidden_size=5376,
                                   intermediate_size=21504, num_attention_heads=32, num_key_value_heads=16,
                                   head_dim=128, vocab_size=262208, max_position_embeddings=131072,
                                   sliding_window=1024, sliding_window_pattern=6))
DEEPSEEK_MLA = dict(architectures=["DeepseekV3ForCausalLM"], num_hidden_layers=61, hidden_size=7168,
                    intermediate_size=18432, num_attention_heads=128, num_key_value_heads=128, vocab_size=129280,
                    max_position_embeddings=163840, torch_dtype="bfloat16", kv_lora_rank=512, qk_rope_head_dim=64)


def spec(config: dict, **meta):
    return from_config(config, model_id="test/model", source="config", meta=meta)


def gpu(name: str):
    return catalog.gpu(name)


# -- KV cache layout: exact vLLM formulas --------------------------------------------------------

@pytest.mark.parametrize("config, expected", [
    (QWEN25_7B, 57_344),  # llm_sizing.md §4 table, "kv B/tok"
    (QWEN3_8B, 147_456),
    (QWEN3_32B, 262_144),  # explicit head_dim 128, not hidden/heads = 80
    (LLAMA31_70B, 327_680),
    (GPT_OSS_120B, 73_728),
])
def test_kv_bytes_per_token_match_published_table(config, expected):
    assert kv_layout(spec(config), 1, 2, 1.0, 4096).bytes_per_token == expected


def test_kv_heads_are_replicated_once_tp_exceeds_them():
    # Qwen3-235B has 4 KV heads: at TP=8 every rank still holds one head (vllm ModelConfig.get_num_kv_heads)
    model = spec(QWEN3_235B)
    tp4 = kv_layout(model, 4, 2, 1.0, 4096).bytes_per_token
    tp8 = kv_layout(model, 8, 2, 1.0, 4096).bytes_per_token
    assert tp4 == tp8 == 94 * 2 * 1 * 128 * 2


def test_mla_latent_cache_is_not_split_by_tp():
    model = spec(DEEPSEEK_MLA)
    assert model.is_mla
    assert kv_layout(model, 1, 2, 1.0, 4096).bytes_per_token == 61 * (512 + 64) * 2
    assert kv_layout(model, 8, 2, 1.0, 4096).bytes_per_token == 61 * (512 + 64) * 2


def test_fp8_kv_cache_halves_bytes_per_token():
    model = spec(QWEN25_7B)
    assert kv_layout(model, 1, 1, 1.0, 4096).bytes_per_token * 2 == kv_layout(model, 1, 2, 1.0, 4096).bytes_per_token


def test_reproduces_vllm_error_for_qwen25_14b_at_131072_tokens():
    # vLLM log: "To serve at least one request with the models's max seq len (131072), 24.00 GiB KV cache is
    # needed, which is larger than the available KV cache memory (10.91 GiB). Based on the available memory,
    # the estimated maximum model length is 59584." (public deployment report, Qwen2.5-14B)
    kv = kv_layout(spec(QWEN25_14B_LONG), 1, 2, 10.91, 131072)
    assert round(kv.needed_gib, 2) == 24.00
    assert not kv.fits
    assert abs(kv.max_model_len_that_fits - 59584) <= 2 * sizing.BLOCK_SIZE  # 10.91 is rounded in the log


def test_reproduces_vllm_error_for_36_layer_qwen3_at_32768_tokens():
    # vLLM log: "max seq len (32768), (4.50 GiB KV cache is needed, ... available KV cache memory (4.47 GiB).
    # ... the estimated maximum model length is 32560" (Qwen3 with 36 layers and 8 KV heads)
    kv = kv_layout(spec(QWEN3_8B), 1, 2, 4.47, 32768)
    assert round(kv.needed_gib, 2) == 4.50
    assert not kv.fits
    assert abs(kv.max_model_len_that_fits - 32560) <= 2 * sizing.BLOCK_SIZE


def test_uniform_model_concurrency_is_blocks_over_blocks_per_request():
    kv = kv_layout(spec(QWEN25_7B), 1, 2, 5.0, 8192)
    assert kv.blocks == int(5.0 * 2**30 // (57_344 * 16))
    assert kv.tokens == kv.blocks * 16
    assert kv.max_concurrency == pytest.approx(kv.blocks / (8192 / 16))


def test_hybrid_sliding_layers_raise_concurrency_beyond_tokens_over_length():
    # gpt-oss: half the layers keep only a 128-token window, so a long request costs far less than
    # tokens/max_len suggests (vLLM hybrid KV cache manager)
    model = spec(GPT_OSS_120B)
    assert (model.full_layers, model.sliding_layers) == (18, 18)
    kv = kv_layout(model, 1, 2, 10.0, 131072)
    assert kv.max_concurrency > kv.tokens / 131072 * 1.5


def test_gemma3_groups_five_local_layers_to_one_global():
    model = spec(GEMMA3_27B)
    assert (model.full_layers, model.sliding_layers) == (10, 52)
    size_, groups = sizing._kv_groups(model)
    assert size_ == 10 and groups.count("full") == 1 and groups.count("sliding_attention") == 6


# -- weights -------------------------------------------------------------------------------------

def test_llama31_8b_weights_match_measured_load():
    # measured "Model loading took 14.9888 GiB" (llm_sizing.md §4, Llama-3.1-8B row)
    result = size(SizingRequest(spec(LLAMA31_8B, params_b=8.03), gpu("A100-80GB"), max_model_len=8192))
    assert result.weights_gib_per_gpu == pytest.approx(14.9888, rel=0.01)


def test_gpt_oss_20b_mxfp4_weights_near_measured_load():
    # measured 13.72 GiB on A100 (llm_sizing.md §4 notes); only experts are MXFP4, the rest bf16
    model = spec(GPT_OSS_20B, params_b=20.9, active_params_b=3.6)
    result = size(SizingRequest(model, gpu("A100-80GB"), max_model_len=8192))
    assert result.quantization == "mxfp4"
    assert result.weights_gib_per_gpu == pytest.approx(13.72, rel=0.01)  # docs/sizing.md claims within 1%
    assert result.active_weight_bytes < result.weight_bytes / 3


def test_gpt_oss_120b_fits_one_a100_80gb():
    # vllm-project/recipes OpenAI/GPT-OSS.md: "gpt-oss-120b will fit on a single A100 (80GB)" with a bare
    # `vllm serve openai/gpt-oss-120b`, i.e. the release's own utilization default (0.92 from 0.20.0).
    # At an explicit 0.9 the full 131072-token context no longer fits: the weights load at 65.97 GiB
    # (vLLM #23278, experts padded 2880 -> 3072 x 2944 by the Marlin MXFP4 MoE), which the old
    # expectation (fits at 0.9) did not account for.
    model = spec(GPT_OSS_120B, params_b=116.8, active_params_b=5.1)
    result = size(SizingRequest(model, gpu("A100-80GB")))
    assert result.gpu_memory_utilization == 0.92
    assert result.fits and result.max_model_len == 131072
    assert result.weights_gib_per_gpu == pytest.approx(65.97, rel=0.01)  # the logged load, docs/sizing.md


def test_weights_split_evenly_across_tp():
    model = spec(LLAMA31_70B, params_b=70.6)
    tp1 = size(SizingRequest(model, gpu("A100-80GB"), 1, max_model_len=4096))
    tp4 = size(SizingRequest(model, gpu("A100-80GB"), 4, max_model_len=4096))
    assert tp4.weights_gib_per_gpu == pytest.approx(tp1.weights_gib_per_gpu / 4)


def test_awq_keeps_embeddings_at_16_bit():
    model = spec(QWEN25_7B, params_b=7.62)
    awq = size(SizingRequest(model, gpu("A10G"), quantization="awq", max_model_len=8192))
    embeddings = model.embedding_params_b * 1e9 * 2
    linear = (7.62e9 - model.embedding_params_b * 1e9) * sizing.QUANT_BITS["awq"] / 8
    assert awq.weight_bytes == pytest.approx(embeddings + linear, rel=1e-6)
    assert any("pre-quantized checkpoint" in r for r in awq.reasons)
    assert not any(a.startswith("--quantization") for a in awq.vllm_args)  # vLLM reads it from the checkpoint


# -- budget and fit --------------------------------------------------------------------------------

def test_budget_applies_utilization_to_total_memory():
    result = size(SizingRequest(spec(QWEN25_7B), gpu("A10G"), gpu_memory_utilization=0.8, max_model_len=4096))
    assert result.budget_gib == pytest.approx(gpu("A10G").torch_total_gib * 0.8)
    parts = (result.weights_gib_per_gpu + result.activation_gib + result.non_torch_gib + result.cuda_graph_gib
             + result.kv_cache_gib_per_gpu)
    assert parts <= result.budget_gib + 1e-9


def test_qwen25_7b_fits_a10g_at_full_context():
    # without a utilization the release's default is used and written out: 0.92 in the pinned 0.20.2
    # (vllm/config/cache.py, raised from 0.9 in 0.20.0), 0.9 before
    result = size(SizingRequest(spec(QWEN25_7B, params_b=7.62), gpu("A10G")))
    assert result.fits and result.max_model_len == 32768 and result.max_concurrency >= 1
    assert result.vllm_args[:3] == ["--tensor-parallel-size=1", "--max-model-len=32768",
                                    "--gpu-memory-utilization=0.92"]
    older = size(SizingRequest(spec(QWEN25_7B, params_b=7.62), gpu("A10G"), vllm_version="0.19.1"))
    assert older.vllm_args[2] == "--gpu-memory-utilization=0.9"


def test_impossible_fit_explains_and_suggests():
    result = size(SizingRequest(spec(LLAMA31_70B, params_b=70.6), gpu("A10G"), max_model_len=8192))
    assert not result.fits and result.kv_cache_tokens == 0
    assert any("no memory left for the KV cache" in b for b in result.blockers)
    assert any("tensor parallelism" in s for s in result.suggestions)


def test_too_long_context_suggests_the_largest_that_fits():
    result = size(SizingRequest(spec(LLAMA31_8B, params_b=8.03), gpu("A10G")))
    assert not result.fits
    assert 0 < result.max_model_len_that_fits < 131072
    assert f"lower --max-model-len to {result.max_model_len_that_fits} (or less)" in result.suggestions
    shorter = size(SizingRequest(spec(LLAMA31_8B, params_b=8.03), gpu("A10G"),
                                 max_model_len=result.max_model_len_that_fits))
    assert shorter.fits


def test_max_model_len_beyond_the_model_is_refused():
    with pytest.raises(SpcsLlmError, match="max_position_embeddings 32768"):
        size(SizingRequest(spec(QWEN25_7B), gpu("A10G"), max_model_len=65536))


def test_large_gpus_get_larger_scheduler_defaults_except_a100():
    assert sizing.batch_defaults(gpu("H100-80GB")) == (8192, 1024)
    assert sizing.batch_defaults(gpu("A100-80GB")) == (2048, 256)
    assert sizing.batch_defaults(gpu("A10G")) == (2048, 256)
    # 0.8.x counted A100s as large too; the exclusion arrived in 0.9.0 (vllm/engine/arg_utils.py)
    assert sizing.batch_defaults(gpu("A100-80GB"), "0.8.5") == (8192, 1024)
    # V0 profiles max(max_model_len, 2048) tokens with 256 sequences; 512-token chunks above 32K before 0.7
    assert sizing.batch_defaults(gpu("H100-80GB"), "0.6.3", 8192) == (8192, 256)
    assert sizing.batch_defaults(gpu("H100-80GB"), "0.6.3", 131072) == (512, 256)
    assert sizing.batch_defaults(gpu("H100-80GB"), "0.7.3", 131072) == (2048, 256)


# -- GPU capabilities ------------------------------------------------------------------------------

def test_t4_runs_bf16_models_in_fp16():
    result = size(SizingRequest(spec(dict(QWEN25_7B, num_hidden_layers=24, hidden_size=896, intermediate_size=4864,
                                          num_attention_heads=14, num_key_value_heads=2, vocab_size=151936)),
                                gpu("T4"), max_model_len=8192))
    assert result.dtype == "float16" and "--dtype=half" in result.vllm_args
    assert any("no bfloat16" in r for r in result.reasons)


def test_fp8_is_refused_on_t4_and_weight_only_on_ampere():
    t4 = size(SizingRequest(spec(QWEN25_7B), gpu("T4"), quantization="fp8", max_model_len=4096))
    assert not t4.valid and not t4.fits and any("cannot run fp8" in b for b in t4.blockers)
    a100 = size(SizingRequest(spec(QWEN25_7B), gpu("A100-40GB"), quantization="fp8", max_model_len=4096))
    assert a100.valid and any("weight-only" in r for r in a100.reasons)
    assert "--quantization=fp8" in a100.vllm_args


def test_fp8_moe_needs_ada_or_hopper():
    ampere = size(SizingRequest(spec(MIXTRAL, params_b=46.7), gpu("A100-80GB"), quantization="fp8",
                                max_model_len=4096))
    assert not ampere.valid and any("FP8 MoE" in b for b in ampere.blockers)
    hopper = size(SizingRequest(spec(MIXTRAL, params_b=46.7), gpu("H100-80GB"), quantization="fp8",
                                max_model_len=4096))
    assert hopper.valid


def test_online_fp8_needs_the_16_bit_weights_to_load_first():
    # vLLM fp8 docs: online quantization loads the model at original precision first
    result = size(SizingRequest(spec(LLAMA31_70B, params_b=70.6), gpu("A100-80GB"), 1, quantization="fp8",
                                max_model_len=4096))
    assert not result.fits and any("loads the bfloat16 weights first" in b for b in result.blockers)


def test_mxfp4_checkpoint_is_refused_on_t4():
    result = size(SizingRequest(spec(GPT_OSS_20B, params_b=20.9), gpu("T4"), max_model_len=4096))
    assert not result.valid


# -- tensor parallelism ----------------------------------------------------------------------------

def test_valid_tp_sizes_divide_heads_and_kv_heads():
    assert valid_tp_sizes(spec(QWEN3_8B), 8) == [1, 2, 4, 8]  # 32 heads: TP=3 fails in vLLM
    assert valid_tp_sizes(spec(QWEN25_7B), 8) == [1, 2, 4]  # 28 heads / 4 KV heads: 7 splits heads, not KV


def test_invalid_tp_is_reported_not_sized():
    result = size(SizingRequest(spec(QWEN3_8B), gpu("A10G"), 3, max_model_len=4096))
    assert not result.valid and not result.fits
    assert "TP=3 is invalid" in result.blockers[0]


def test_bad_utilization_and_kv_dtype_are_refused():
    with pytest.raises(SpcsLlmError, match="gpu_memory_utilization"):
        size(SizingRequest(spec(QWEN25_7B), gpu("A10G"), gpu_memory_utilization=1.5))
    with pytest.raises(SpcsLlmError, match="kv_cache_dtype"):
        size(SizingRequest(spec(QWEN25_7B), gpu("A10G"), kv_cache_dtype="int4"))


# -- parameter counting from shapes (fallback for configs without a published count) ---------------

@pytest.mark.parametrize("config, published_b", [
    (QWEN25_7B, 7.62), (QWEN3_8B, 8.19), (LLAMA31_8B, 8.03), (LLAMA31_70B, 70.6), (MIXTRAL, 46.7),
])
def test_counted_params_match_published_totals(config, published_b):
    assert spec(config).counted_params() == pytest.approx(published_b, rel=0.03)


def test_counted_active_params_of_moe():
    assert spec(MIXTRAL).counted_params(active=True) == pytest.approx(12.9, rel=0.03)


def test_awq_checkpoint_counts_its_group_scales():
    config = dict(QWEN25_7B, quantization_config={"quant_method": "awq", "bits": 4, "group_size": 128})
    model = spec(config, params_b=7.62)
    assert (model.checkpoint_quantization, model.checkpoint_bits) == ("awq", 4.0)
    result = size(SizingRequest(model, gpu("T4"), max_model_len=4096))
    linear = 7.62e9 - model.embedding_params_b * 1e9
    assert result.weight_bytes == pytest.approx(linear * (4 + 20 / 128) / 8 + model.embedding_params_b * 1e9 * 2,
                                                rel=1e-6)
    assert result.valid and result.fits and result.dtype == "float16"


def test_scheduler_overrides_must_be_positive():
    with pytest.raises(SpcsLlmError, match="max_num_seqs 0"):
        size(SizingRequest(spec(QWEN25_7B), gpu("A10G"), max_model_len=4096, max_num_seqs=0))
