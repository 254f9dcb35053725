"""Public vLLM start-up logs and publishers' serving configurations the sizing is checked against.

Each log names its vLLM release (stated in the log or the thread, or matched by the file:line of its
log statement in that release's wheel). `predict()` sizes the logged configuration with that release's
accounting (vllm_versions.py); tests/unit/test_sizing_calibration.py holds every log to
max(1 GiB, 10%) of the logged KV cache, and docs/sizing.md shows `markdown_table()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from . import catalog
from .models import ModelSpec, from_config
from .sizing import GIB, Sizing, SizingRequest, size

LLAMA31_8B = {"architectures": ["LlamaForCausalLM"], "num_hidden_layers": 32, "hidden_size": 4096,
              "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
              "max_position_embeddings": 131072, "torch_dtype": "bfloat16"}
LLAMA3_8B = dict(LLAMA31_8B, max_position_embeddings=8192)  # Meta-Llama-3-8B: 8K context
LLAMA_70B = dict(LLAMA31_8B, num_hidden_layers=80, hidden_size=8192, intermediate_size=28672, num_attention_heads=64)
QWEN3_8B = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "num_hidden_layers": 36, "hidden_size": 4096,
            "intermediate_size": 12288, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
            "vocab_size": 151936, "max_position_embeddings": 40960, "torch_dtype": "bfloat16",
            "tie_word_embeddings": False}
GPT_OSS_20B = {"architectures": ["GptOssForCausalLM"], "num_hidden_layers": 24, "hidden_size": 2880,
               "intermediate_size": 2880, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
               "vocab_size": 201088, "max_position_embeddings": 131072, "torch_dtype": "bfloat16",
               "sliding_window": 128, "num_local_experts": 32, "num_experts_per_tok": 4,
               "layer_types": ["sliding_attention", "full_attention"] * 12,
               "quantization_config": {"quant_method": "mxfp4"}}
GPT_OSS_120B = dict(GPT_OSS_20B, num_hidden_layers=36, num_local_experts=128,
                    layer_types=["sliding_attention", "full_attention"] * 18)


def _compressed_tensors(kind: str) -> dict:
    """A compressed-tensors 8-bit checkpoint's quantization_config (llm-compressor FP8-dynamic / W8A8)."""
    return {"quant_method": "compressed-tensors",
            "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": kind}}}}


@dataclass(frozen=True)
class Case:
    label: str
    url: str
    vllm_version: str
    version_evidence: str
    model_id: str
    config: dict
    gpu: str  # catalog GPU whose capabilities apply
    gpu_total_gib: float | None = None  # the log's torch-visible total when it states one
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    max_num_batched_tokens: int | None = None
    quantization: str | None = None
    params_b: float | None = None  # published parameter count (the config counts slightly differently)
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def model(self) -> ModelSpec:
        meta = {"params_b": self.params_b} if self.params_b else None
        return from_config(self.config, model_id=self.model_id, source="config", meta=meta)

    def request(self) -> SizingRequest:
        gpu = catalog.gpu(self.gpu)
        if self.gpu_total_gib:
            gpu = replace(gpu, torch_total_gib=self.gpu_total_gib)
        return SizingRequest(
            model=self.model(), gpu=gpu, tensor_parallel_size=self.tensor_parallel_size,
            gpu_memory_utilization=self.gpu_memory_utilization, max_model_len=self.max_model_len,
            quantization=self.quantization, max_num_batched_tokens=self.max_num_batched_tokens,
            vllm_version=self.vllm_version, **self.extra)


@dataclass(frozen=True)
class LogCase(Case):
    logged_kv_gib: float = 0.0  # "Available KV cache memory" / "kv_cache_size" / derived from the logged parts
    logged_kv_tokens: int | None = None  # "GPU KV cache size" or "# GPU blocks" x 16, when logged
    role: str = "held out"  # which estimated constant the log set (vllm_versions.py), or "held out"


@dataclass(frozen=True)
class PublisherCase(Case):
    """A configuration its publisher documents as served: the sizing must say it fits."""


LOGS: tuple[LogCase, ...] = (
    LogCase(
        label="Meta-Llama-3-8B, 80 GB GPU, TP=1", url="https://github.com/vllm-project/vllm/pull/10511",
        vllm_version="0.6.5", version_evidence="vLLM main on 2024-12-13 (the PR merged into 0.6.5), V0 engine",
        model_id="meta-llama/Meta-Llama-3-8B", config=LLAMA3_8B, params_b=8.03, gpu="H100-80GB",
        gpu_total_gib=79.22, logged_kv_gib=53.29, role="V0 non-torch, GPUs of 40 GiB or more",
        notes="logged: weights 14.96, non-torch 1.79, activations 1.26, available_kv_cache_memory 53.29 GiB"),
    LogCase(
        label="Meta-Llama-3-8B, 80 GB GPU, TP=2", url="https://github.com/vllm-project/vllm/pull/10511",
        vllm_version="0.6.5", version_evidence="same run as the TP=1 log, with -tp 2",
        model_id="meta-llama/Meta-Llama-3-8B", config=LLAMA3_8B, params_b=8.03, gpu="H100-80GB",
        gpu_total_gib=79.22, tensor_parallel_size=2, logged_kv_gib=58.97, role="non-torch growth at TP > 1",
        notes="71.29 - 7.48 (weights) - 3.58 (non-torch) - 1.26 (activations), the logged parts"),
    LogCase(
        label="Llama-3.1-8B, RTX 3090, 20000 tokens", url="https://github.com/vllm-project/vllm/issues/10517",
        vllm_version="0.6.4", version_evidence="'Memory profiling results: total_gpu_memory=...' is 0.6.4's format "
                                               "(replaced in 0.6.5); posted 2024-12-02",
        model_id="meta-llama/Llama-3.1-8B-Instruct", config=LLAMA31_8B, params_b=8.03, gpu="A10G",
        gpu_total_gib=23.58, max_model_len=20000, logged_kv_gib=3.81, logged_kv_tokens=1952 * 16,
        role="V0 non-torch, GPUs under 40 GiB",
        notes="# GPU blocks: 1952; V0 profiles max_model_len tokens, so the KV cache shrinks as the context grows"),
    LogCase(
        label="Llama-3.1-8B, RTX 3090, 29000 tokens", url="https://github.com/vllm-project/vllm/issues/10517",
        vllm_version="0.6.4", version_evidence="same thread and format as the 20000-token log",
        model_id="meta-llama/Llama-3.1-8B-Instruct", config=LLAMA31_8B, params_b=8.03, gpu="A10G",
        gpu_total_gib=23.58, max_model_len=29000, logged_kv_gib=2.89, logged_kv_tokens=1478 * 16,
        notes="# GPU blocks: 1478, then 'max seq len (29000) is larger than ... KV cache (23648)'"),
    LogCase(
        label="gpt-oss-120b, H100, defaults", url="https://github.com/vllm-project/vllm/issues/23278",
        vllm_version="0.10.1", version_evidence="'gpu_worker.py:276 Available KV cache memory' is line 276 in the "
                                                "0.10.1.1 wheel; posted 2025-08-20",
        model_id="openai/gpt-oss-120b", config=GPT_OSS_120B, params_b=116.8, gpu="H100-80GB",
        logged_kv_gib=-2.14, role="V1 sort-sampler bytes per logit",
        notes="Model loading took 65.97 GiB; start-up fails (negative KV memory)"),
    LogCase(
        label="gpt-oss-120b, H100, 0.95, 1024 batched tokens", url="https://github.com/vllm-project/vllm/issues/27508",
        vllm_version="0.11.0", version_evidence="'gpu_worker.py:298 Available KV cache memory' is line 298 in the "
                                                "0.11.0 wheel; posted 2025-10-31",
        model_id="openai/gpt-oss-120b", config=GPT_OSS_120B, params_b=116.8, gpu="H100-80GB",
        gpu_memory_utilization=0.95, max_num_batched_tokens=1024, logged_kv_gib=1.71,
        role="V1 sort-sampler bytes per logit",
        notes="the sampler warm-up over 1024 requests x 201088 logits, not the batch size, dominates"),
    LogCase(
        label="gpt-oss-20b, A100 80GB, 0.65", url="https://myoceane.fr/index.php/ai-vllm-a100-gemma-4/",
        vllm_version="0.19.0", version_evidence="the log's banner: 'version 0.19.0'",
        model_id="openai/gpt-oss-20b", config=GPT_OSS_20B, params_b=20.9, gpu="A100-80GB",
        gpu_memory_utilization=0.65, logged_kv_gib=36.56,
        notes="Model loading took 13.72 GiB; A100 gets the small scheduler defaults since 0.9.0"),
    LogCase(
        label="Qwen3-8B, RTX A5000, 16384 tokens", url="https://github.com/LMCache/LMCache/issues/3430",
        vllm_version="0.21.0", version_evidence="the report's environment: 'vllm 0.21.0'",
        model_id="Qwen/Qwen3-8B", config=QWEN3_8B, params_b=8.19, gpu="A10G", gpu_total_gib=23.53,
        gpu_memory_utilization=0.9764, max_model_len=16384, max_num_batched_tokens=8192,
        logged_kv_gib=6.37, logged_kv_tokens=46368, role="CUDA graphs per layer (its 0.52 GiB); KV held out",
        notes="offline LLM class (8192 batched tokens); total memory from the logged 0.52 GiB of CUDA graphs "
              "= 0.9764 - 0.9543 of it; the only log here with graphs profiled inside the budget"),
)

PUBLISHER_CONFIGS: tuple[PublisherCase, ...] = (
    PublisherCase(
        label="Llama-3.3-70B FP8-Dynamic on one H100, 9000 tokens, 0.95",
        url="https://huggingface.co/cortecs/Llama-3.3-70B-Instruct-FP8-Dynamic/discussions/1",
        vllm_version="0.6.6", version_evidence="the publisher's answer: 'optimized for a single H100 ... use "
                                               "--max-model-len 9000 and set --gpu-memory-util 0.95' (V0 era)",
        model_id="cortecs/Llama-3.3-70B-Instruct-FP8-Dynamic", config=dict(LLAMA_70B,
                                                                           quantization_config=_compressed_tensors(
                                                                               "float")),
        params_b=70.6, gpu="H100-80GB", gpu_memory_utilization=0.95, max_model_len=9000),
    PublisherCase(
        label="the same, sized for the pinned 0.20.2",
        url="https://huggingface.co/cortecs/Llama-3.3-70B-Instruct-FP8-Dynamic/discussions/1",
        vllm_version="0.20.2", version_evidence="the custom image's pin",
        model_id="cortecs/Llama-3.3-70B-Instruct-FP8-Dynamic",
        config=dict(LLAMA_70B, quantization_config=_compressed_tensors("float")), params_b=70.6, gpu="H100-80GB",
        gpu_memory_utilization=0.95, max_model_len=9000),
    PublisherCase(
        label="Llama-3.3-70B FP8-dynamic on one GPU (model card), at 4096 tokens and the release's utilization",
        url="https://huggingface.co/RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic",
        vllm_version="0.20.2", version_evidence="model card: number_gpus = 1; sized at 0.20.2's own utilization "
                                                "default (0.92) and a 4k context",
        model_id="RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic",
        config=dict(LLAMA_70B, quantization_config=_compressed_tensors("float")), params_b=70.6, gpu="H100-80GB",
        gpu_memory_utilization=0.92, max_model_len=4096),
    PublisherCase(
        label="Llama-3.1-70B W8A8 on one 80 GB GPU, 2048 tokens, 0.98",
        url="https://github.com/vllm-project/vllm/pull/12569",
        vllm_version="0.8.0", version_evidence="logged by the checkpoint's publisher (Neural Magic) with the V1 "
                                               "engine of 0.7.1; sized with 0.8.0, the first release where V1 is "
                                               "the default",
        model_id="neuralmagic/Meta-Llama-3.1-70B-Instruct-quantized.w8a8",
        config=dict(LLAMA_70B, quantization_config=_compressed_tensors("int")), params_b=70.6, gpu="H100-80GB",
        gpu_memory_utilization=0.98, max_model_len=2048),
    PublisherCase(
        label="gpt-oss-120b on one A100 80GB, full context, release defaults",
        url="https://github.com/vllm-project/recipes/blob/main/OpenAI/GPT-OSS.md",
        vllm_version="0.20.2",
        version_evidence="vLLM recipe: 'gpt-oss-120b will fit on a single A100 (80GB)' with a bare "
                         "`vllm serve openai/gpt-oss-120b` (0.20.2 default utilization 0.92)",
        model_id="openai/gpt-oss-120b", config=GPT_OSS_120B, params_b=116.8, gpu="A100-80GB",
        gpu_memory_utilization=0.92),
)


def predict(case: Case) -> Sizing:
    return size(case.request())


def tolerance_gib(case: LogCase) -> float:
    """The target: within max(1 GiB, 10% of the logged KV cache)."""
    return max(1.0, 0.10 * abs(case.logged_kv_gib))


def predicted_kv_gib(result: Sizing) -> float:
    """The KV memory before it is cut into blocks (negative when nothing is left, as vLLM logs it)."""
    return result.kv_budget_gib


def markdown_table() -> str:
    rows = ["| log | vLLM | GPU total, TP, utilization, context | logged KV | predicted KV | difference | "
            "constant it set |",
            "|---|---|---|---|---|---|---|"]
    for case in LOGS:
        result = predict(case)
        kv = predicted_kv_gib(result)
        logged = f"{case.logged_kv_gib:.2f} GiB" + (f" ({case.logged_kv_tokens:,} tokens)"
                                                      if case.logged_kv_tokens else "")
        predicted = f"{kv:.2f} GiB" + (f" ({result.kv_cache_tokens:,} tokens)" if case.logged_kv_tokens else "")
        setup = (f"{result.gpu_total_gib:g} GiB, TP={case.tensor_parallel_size}, {case.gpu_memory_utilization}, "
                 f"{result.max_model_len}")
        rows.append(f"| [{case.label}]({case.url}) | {case.vllm_version} ({result.vllm_accounting}) | {setup} | "
                    f"{logged} | {predicted} | {kv - case.logged_kv_gib:+.2f} GiB | {case.role} |")
    return "\n".join(rows)


def publisher_table() -> str:
    rows = ["| documented configuration | sized with | verdict | KV tokens |", "|---|---|---|---|"]
    for case in PUBLISHER_CONFIGS:
        result = predict(case)
        rows.append(f"| [{case.label}]({case.url}) | {case.vllm_version} ({result.vllm_accounting}) | "
                    f"{'fits' if result.fits else 'does not fit'} | {result.kv_cache_tokens:,} |")
    return "\n".join(rows)


__all__ = ["GIB", "LOGS", "PUBLISHER_CONFIGS", "LogCase", "PublisherCase", "markdown_table", "predict",
           "predicted_kv_gib", "publisher_table", "tolerance_gib"]
