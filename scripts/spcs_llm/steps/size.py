"""Raw vLLM memory sizing of one configuration (offline): model, GPU, TP, memory utilization,
context length, dtype, quantization and KV-cache dtype -> weights, activations, KV cache, tokens,
concurrency, and whether one full-length request fits (exit code 1 when it does not)."""

from __future__ import annotations

from dataclasses import replace

from .. import catalog, vllm_versions
from ..errors import EXIT_NEGATIVE, SpcsLlmError
from ..models import resolve_model
from ..output import StepResult
from ..sizing import GPU_MEMORY_UTILIZATION_HELP, KV_CACHE_DTYPES, QUANTIZATIONS, SizingRequest, size

_ROWS = [("weights_gib_per_gpu", "weights per GPU", "GiB"), ("activation_gib", "peak activations", "GiB"),
         ("non_torch_gib", "non-torch (NCCL, cuBLAS)", "GiB"), ("cuda_graph_gib", "CUDA graphs (in budget)", "GiB"),
         ("cuda_graph_outside_gib", "CUDA graphs (outside budget)", "GiB"),
         ("kv_cache_gib_per_gpu", "KV cache per GPU", "GiB"), ("budget_gib", "budget (total x utilization)", "GiB"),
         ("kv_bytes_per_token", "KV bytes per token per GPU", "B"), ("kv_cache_tokens", "KV cache tokens", ""),
         ("max_concurrency", "max concurrency (full-length)", "x"),
         ("max_model_len_that_fits", "largest max_model_len that fits", "")]


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="catalog id, Hugging Face id, or path to a config.json")
    parser.add_argument("--gpu", help=f"GPU name: {', '.join(catalog.gpus())} (or use --gpu-memory-gib)")
    parser.add_argument("--gpu-memory-gib", type=float,
                        help="total GPU memory as PyTorch reports it, for a GPU outside the catalog (with --gpu "
                             "as the closest catalog GPU for capabilities, default A100-80GB)")
    parser.add_argument("--tp", type=int, default=1, help="tensor parallel size (default 1)")
    parser.add_argument("--gpu-memory-utilization", type=float,
                        help=GPU_MEMORY_UTILIZATION_HELP)
    parser.add_argument("--vllm-version", metavar="X.Y.Z",
                        help="size with the memory accounting of this vLLM release, 0.5 or later (default: the "
                             f"custom image's pin, {vllm_versions.CUSTOM_IMAGE_VLLM_VERSION}); use it to reproduce a "
                             "start-up log of another release")
    parser.add_argument("--max-model-len", type=int, help="default: the model's max_position_embeddings")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float16", "half", "bfloat16", "float32"],
                        help="weight/activation dtype as vLLM's --dtype (default auto: the model's, float16 on T4)")
    parser.add_argument("--quantization", choices=QUANTIZATIONS,
                        help="weight quantization (default: the checkpoint's own quantization_config)")
    parser.add_argument("--kv-cache-dtype", default="auto", choices=KV_CACHE_DTYPES,
                        help="KV cache dtype as vLLM's --kv-cache-dtype (default auto: the model dtype)")
    parser.add_argument("--max-num-batched-tokens", type=int,
                        help="default: the release's default for this GPU and context length")
    parser.add_argument("--max-num-seqs", type=int, help="default: the release's default for this GPU")
    parser.add_argument("--enforce-eager", action="store_true", help="no CUDA graphs (saves their memory)")


def run(args) -> StepResult:
    if not args.gpu and args.gpu_memory_gib is None:
        raise SpcsLlmError("give --gpu NAME or --gpu-memory-gib X", hint=f"catalog GPUs: {', '.join(catalog.gpus())}")
    gpu = catalog.gpu(args.gpu or "A100-80GB")
    if args.gpu_memory_gib is not None:
        if args.gpu_memory_gib <= 0:
            raise SpcsLlmError(f"--gpu-memory-gib {args.gpu_memory_gib} must be positive")
        gpu = replace(gpu, name=f"{gpu.name}-like {args.gpu_memory_gib:g} GiB", torch_total_gib=args.gpu_memory_gib)
    model = resolve_model(args.model)
    result = size(SizingRequest(
        model=model, gpu=gpu, tensor_parallel_size=args.tp, gpu_memory_utilization=args.gpu_memory_utilization,
        max_model_len=args.max_model_len, dtype=args.dtype, quantization=args.quantization,
        kv_cache_dtype=args.kv_cache_dtype, max_num_batched_tokens=args.max_num_batched_tokens,
        max_num_seqs=args.max_num_seqs, enforce_eager=args.enforce_eager, vllm_version=args.vllm_version,
        vllm_version_source="--vllm-version" if args.vllm_version else ""))
    data = result.as_dict()
    lines = [f"{model.id} on {gpu.name} x TP={args.tp}, max_model_len {result.max_model_len}, {result.dtype}"
             + (f", {result.quantization}" if result.quantization else ""),
             f"vLLM {result.vllm_version} accounting ({result.vllm_accounting}), gpu_memory_utilization "
             f"{result.gpu_memory_utilization}, profile run of {result.max_num_batched_tokens} tokens / "
             f"{result.max_num_seqs} sequences", ""]
    for key, label, unit in _ROWS:
        value = data[key]
        lines.append(f"  {label:<34} {value:>12,.2f} {unit}" if isinstance(value, float)
                     else f"  {label:<34} {value:>12,} {unit}")
    lines += ["", f"fits: {'yes' if result.fits else 'no'}"] + [f"  - {r}" for r in result.reasons]
    if result.suggestions:
        lines += ["what would fit:"] + [f"  - {s}" for s in result.suggestions]
    lines.append(f"vLLM args: {' '.join(result.vllm_args)}")
    return StepResult(data=data, text="\n".join(lines), exit_code=0 if result.fits else EXIT_NEGATIVE)
