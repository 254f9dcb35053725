"""What each vLLM release subtracts from `total x gpu_memory_utilization` before the KV cache.

Read from the released wheels (`pip download vllm==X --no-deps`), files named per behaviour:

- "v0" (0.5.0 - 0.7.x; V0 engine, `vllm/worker/worker.py` determine_num_available_blocks):
  KV = total x gmu - (weights + the profile run's peak + non-torch memory allocated since the
  worker's first snapshot). The profile run processes max_num_batched_tokens, which defaults to
  max(max_model_len, 2048) unless chunked prefill is on (it is by default above 32K context:
  512 tokens before 0.7, 2048 in 0.7.x; `vllm/config.py` SchedulerConfig), with 256 sequences.
  CUDA graphs are captured after the KV cache is allocated: they live in the 1 - gmu headroom.
- "v1-early" (0.8.0 - 0.9.0; V1 engine, `vllm/v1/worker/gpu_worker.py` determine_available_memory):
  KV = total x gmu - torch peak (weights + activations) - (device memory in use - torch allocated),
  so the CUDA context counts as non-torch memory. Scheduler defaults: 8192 tokens and 1024
  sequences on GPUs with at least 70 GiB (A100 included), else 2048 and 256
  (`vllm/engine/arg_utils.py`, get_batch_defaults). Graphs outside the budget.
- "v1" (0.9.1 and later; `memory_profiling` from the worker's init snapshot): KV = total x gmu -
  weights - torch peak increase of the profile run - non-torch increase since start-up. From 0.9.0
  A100s get the small-GPU scheduler defaults. Graphs outside the budget.
- "v1-graphs" (0.20.0 and later by default; 0.18 - 0.19 with VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1):
  as "v1", minus the profiled CUDA-graph memory (`profile_cudagraph_memory`), so graphs shrink the KV
  cache instead of the headroom. 0.20.0's `vllm/envs.py` defaults the variable to 1 (its log line
  says "default since v0.21.0").

The V1 profile run ends with a sampler warm-up over min(max_num_seqs, max_num_batched_tokens)
requests with top-k and top-p set: up to 0.16 the PyTorch path sorts the whole vocabulary (float32
values plus int64 indices and the softmax/cumsum copies); 0.17 added a Triton top-k/top-p kernel
for batches of 8 or more (`vllm/v1/sample/ops/topk_topp_triton.py`) that does not sort.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import SpcsLlmError

# The custom image's pin (model_image/Dockerfile, ARG VLLM_IMAGE=vllm/vllm-openai:v0.20.2-cu129;
# tests/unit/test_vllm_versions.py keeps the two in step).
CUSTOM_IMAGE_VLLM_VERSION = "0.20.2"
# Snowflake does not publish the vLLM release its Model Registry inference server runs: neither the
# installed snowflake-ml-python (2.6.0, which only names the "vllm" engine) nor its release notes
# or docs state it. Assumed: the custom image's release, whose accounting (CUDA graphs inside the
# budget) is the more conservative for a fit verdict. `--vllm-version` or an observed KV cache
# (`plan --replan --observed-log`) replaces the assumption.
REGISTRY_VLLM_VERSION = CUSTOM_IMAGE_VLLM_VERSION
REGISTRY_VERSION_NOTE = ("assumed: Snowflake does not publish the vLLM release of its inference server; "
                         "sized as the custom image's pin")
OLDEST_SUPPORTED = (0, 5, 0)

V0, V1_EARLY, V1, V1_GRAPHS = "v0", "v1-early", "v1", "v1-graphs"

GIB = 2**30
LARGE_GPU_GIB = 70  # get_batch_defaults: ">= 70 GiB" gets the larger scheduler defaults

# Calibrated on public start-up logs (docs/sizing.md, tests/unit/test_sizing_calibration.py):
# non-torch memory in GiB per accounting, for (GPU under 40 GiB, GPU of 40 GiB or more).
NON_TORCH_TP1 = {
    V0: (0.4, 1.8),         # 0.35 GiB RTX 3090 (vLLM #10517), 1.79 GiB 80 GB GPU (vLLM PR #10511)
    V1_EARLY: (0.7, 1.0),   # the CUDA context and lazily loaded kernels count here (not measured apart)
    V1: (0.2, 0.3),         # 0.07 GiB on a B200 (vLLM PR #21489); the rest is margin
    V1_GRAPHS: (0.2, 0.3),
}
# TP > 1 adds NCCL buffers and the custom all-reduce: 3.58 GiB at TP=2 vs 1.79 at TP=1 on the
# same 80 GB GPU (vLLM PR #10511, V0). V1 figures are not published apart: the same growth is assumed.
NON_TORCH_TP_EXTRA_GIB = (0.4, 1.8)
# Sampler warm-up bytes per logit (requests x vocabulary). V0 keeps 16-bit logits plus a float32
# copy for max_num_seqs requests. V1's sort path: float32 logits, sorted values, int64 indices,
# softmax and cumsum copies and the sort's scratch, about 34 bytes (calibrated on gpt-oss-120b on
# H100, vLLM #23278 at 0.10.1 and #27508 at 0.11.0); the Triton kernel keeps logits, probabilities
# and the exponential draw, about 12 bytes.
SAMPLER_BYTES = {"v0": 6, "sort": 34, "triton": 12}
# CUDA-graph memory as 0.20+ profiles it: 0.52 GiB for a 36-layer Qwen3-8B with the default capture
# sizes (PIECEWISE=51 up to 512, FULL=35 up to 256; LMCache issue #3430) -> 0.015 GiB per layer.
# V0 warned "CUDA graphs can take additional 1~3 GiB memory per GPU" (model_runner.py).
CUDA_GRAPH_PER_LAYER_GIB, CUDA_GRAPH_MAX_GIB = 0.015, 3.0
V0_CUDA_GRAPH_PER_LAYER_GIB = 0.03  # 2.46 GiB for a 60-layer 34B at TP=4 (vLLM #7553)


@dataclass(frozen=True)
class Accounting:
    version: str
    kind: str  # v0 | v1-early | v1 | v1-graphs
    source: str  # where the version came from (flag, plan, custom image pin, registry assumption)

    @property
    def release(self) -> tuple[int, int, int]:
        return parse(self.version)

    @property
    def graphs_in_budget(self) -> bool:
        return self.kind == V1_GRAPHS

    def describe(self) -> str:
        where = {V0: "V0 engine: profile run at max_num_batched_tokens, CUDA graphs outside the budget",
                 V1_EARLY: "V1 engine before memory_profiling: the CUDA context counts as non-torch memory, "
                           "CUDA graphs outside the budget",
                 V1: "V1 engine: CUDA graphs are captured after the KV cache, outside the budget",
                 V1_GRAPHS: "V1 engine with CUDA-graph memory profiled inside the budget"}[self.kind]
        return f"vLLM {self.version}" + (f" ({self.source})" if self.source else "") + f": {where}"


def parse(version: str) -> tuple[int, int, int]:
    """'0.20.2', 'v0.8.5.post1', '0.10.1.1' -> (major, minor, patch); refuses anything else."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.+-]?(?:post|dev|rc)?\d*[\w.+-]*)?", str(version).strip())
    if not match:
        raise SpcsLlmError(f"vLLM version {version!r} is not a release number",
                           hint="use the form 0.20.2 (as in `vllm --version` or the image tag)")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def accounting(version: str | None = None, *, source: str = "",
               estimate_cudagraphs: bool | None = None) -> Accounting:
    """The accounting a release uses; None means the custom image's pin.

    estimate_cudagraphs mirrors VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS (None: the release default).
    """
    if version is None:
        version, source = CUSTOM_IMAGE_VLLM_VERSION, "custom image pin (model_image/Dockerfile)"
    release = parse(version)
    if release < OLDEST_SUPPORTED:
        raise SpcsLlmError(f"vLLM version {version} is older than 0.5.0, whose memory accounting is not modelled",
                           hint="use a release from 0.5.0 on")
    if release < (0, 8, 0):
        kind = V0
    elif release <= (0, 9, 0):
        kind = V1_EARLY
    else:
        default_on = release >= (0, 20, 0)
        on = default_on if estimate_cudagraphs is None else (estimate_cudagraphs and release >= (0, 18, 0))
        kind = V1_GRAPHS if on else V1
    return Accounting(version=str(version).lstrip("v"), kind=kind, source=source)


def default_gpu_memory_utilization(acc: Accounting) -> float:
    """CacheConfig's default: 0.9, raised to 0.92 in 0.20.0 with CUDA-graph profiling (vllm/config/cache.py)."""
    return 0.92 if acc.release >= (0, 20, 0) else 0.9


def scheduler_defaults(acc: Accounting, gpu_total_gib: float, gpu_name: str, max_model_len: int) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) of `vllm serve` when neither flag is given."""
    if acc.kind == V0:
        if max_model_len > 32768:  # chunked prefill is switched on for long contexts
            return (512 if acc.release < (0, 7, 0) else 2048), 256
        return max(max_model_len, 2048), 256
    large = gpu_total_gib >= LARGE_GPU_GIB
    if acc.release >= (0, 9, 0) and "a100" in gpu_name.lower():
        large = False  # vLLM PR #17885: large batches lower A100 throughput
    return (8192, 1024) if large else (2048, 256)


def sampler_bytes_per_logit(acc: Accounting) -> int:
    if acc.kind == V0:
        return SAMPLER_BYTES["v0"]
    return SAMPLER_BYTES["triton" if acc.release >= (0, 17, 0) else "sort"]


def non_torch_gib(acc: Accounting, gpu_total_gib: float, tp: int) -> float:
    large = gpu_total_gib >= 40
    base = NON_TORCH_TP1[acc.kind][large]
    return base + (NON_TORCH_TP_EXTRA_GIB[large] if tp > 1 else 0.0)


def cuda_graph_gib(acc: Accounting, num_layers: int, enforce_eager: bool) -> float:
    """The captured graphs' memory per GPU (0 with --enforce-eager), in or outside the budget."""
    if enforce_eager:
        return 0.0
    per_layer = V0_CUDA_GRAPH_PER_LAYER_GIB if acc.kind == V0 else CUDA_GRAPH_PER_LAYER_GIB
    return min(CUDA_GRAPH_MAX_GIB, per_layer * num_layers)


def default_for_path(engine_path: str | None) -> tuple[str, str]:
    """The version a deployment path runs, and where that fact comes from."""
    if engine_path == "registry":
        return REGISTRY_VLLM_VERSION, REGISTRY_VERSION_NOTE
    return CUSTOM_IMAGE_VLLM_VERSION, "custom image pin (model_image/Dockerfile)"
