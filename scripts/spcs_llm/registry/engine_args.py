"""The vLLM arguments passed to create_service(inference_engine_options=...).

snowflake-ml-python 2.6.0 passes `engine_args_override` to vLLM as-is, with two rules
(snowflake/ml/model/_client/service/model_deployment_spec.py, add_inference_engine_spec):
every item must start with "--" (a separate value item such as "4096" raises ValueError), and
arguments on a block-list are dropped with only a warning. Since 2.6.0 it also no longer adds
--tensor-parallel-size from gpu_requests, so a multi-GPU service must pass it explicitly.

The pack therefore writes every argument in the one-item `--flag=value` form, always sets the
tensor-parallel size, context length and memory fraction, and refuses block-listed flags up front
instead of letting them vanish silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import SpcsLlmError

# Copied from snowflake-ml-python 2.6.0 model_deployment_spec.py (the set inside
# add_inference_engine_spec); tests/unit/test_registry_api.py compares it with the installed source.
VLLM_BLOCKED_ARGS = frozenset({
    "--host", "--port", "--allowed-headers", "--api-key", "--lora-modules", "--enable-lora",
    "--prompt-adapter", "--ssl-keyfile", "--ssl-certfile", "--ssl-ca-certs", "--enable-ssl-refresh",
    "--ssl-cert-reqs", "--root-path", "--middleware", "--disable-frontend-multiprocessing",
    "--log-config-file",
})

# vLLM --dtype choices (vLLM engine arguments reference).
VLLM_DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")
# Values that mean "let vLLM decide": no argument is written for them.
_UNSET = {None, "", "auto", "none", "null"}

_ARG = re.compile(r"^--[a-z0-9][a-z0-9_-]*(=\S+)?$")
_WORD = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

def flag_of(arg: str) -> str:
    """The flag part of `--flag=value`, with '_' spelled '-' (vLLM accepts both spellings)."""
    return arg.split("=", 1)[0].replace("_", "-")


def check_arg(arg: object, where: str) -> str:
    """One engine argument in the form Snowflake passes through unchanged, or a clear error."""
    if not isinstance(arg, str) or not _ARG.match(arg):
        raise SpcsLlmError(
            f"vLLM argument {arg!r} in {where} is not in the form --flag or --flag=value",
            hint="write each argument as one item, e.g. '--max-num-seqs=64': create_service rejects "
            "a value given as its own item and needs the '--' prefix",
        )
    if flag_of(arg) in VLLM_BLOCKED_ARGS:
        raise SpcsLlmError(
            f"vLLM argument {arg!r} in {where} is on Snowflake's block-list and would be dropped",
            hint="remove it; Snowflake's inference server controls "
            + ", ".join(sorted(VLLM_BLOCKED_ARGS)),
        )
    return arg


def build_engine_args(
    *,
    tensor_parallel_size: int,
    max_model_len: int,
    gpu_memory_utilization: float,
    dtype: str | None = None,
    quantization: str | None = None,
    kv_cache_dtype: str | None = None,
    extra: Iterable[str] | None = None,
    extra_where: str = "selection.vllm_args",
) -> tuple[list[str], list[str]]:
    """The engine_args_override list (sizing flags first) and notes about overridden values.

    `extra` is the plan's own vLLM argument list (selection.vllm_args, written by `plan`): it is
    the authority on every flag except the three sizing flags, which come from the fields a later
    step may have changed (workers.tensor_parallel_size, ...). Without it, dtype, quantization and
    KV-cache dtype are written from the selection fields.
    """
    if not isinstance(tensor_parallel_size, int) or isinstance(tensor_parallel_size, bool) \
            or tensor_parallel_size < 1:
        raise SpcsLlmError(f"tensor-parallel size {tensor_parallel_size!r} must be a whole number of GPUs >= 1")
    if not isinstance(max_model_len, int) or isinstance(max_model_len, bool) or max_model_len < 1:
        raise SpcsLlmError(f"max model length {max_model_len!r} must be a positive number of tokens")
    if isinstance(gpu_memory_utilization, bool) or not isinstance(gpu_memory_utilization, int | float) \
            or not 0 < gpu_memory_utilization <= 1:
        raise SpcsLlmError(f"GPU memory utilization {gpu_memory_utilization!r} must be a fraction in (0, 1]")
    own = {
        "--tensor-parallel-size": f"--tensor-parallel-size={tensor_parallel_size}",
        "--max-model-len": f"--max-model-len={max_model_len}",
        "--gpu-memory-utilization": f"--gpu-memory-utilization={_fraction(gpu_memory_utilization)}",
    }
    if extra is None:
        extra, extra_where = _derived(dtype, quantization, kv_cache_dtype), "the selection fields"
    elif isinstance(extra, str) or not all(isinstance(a, str) for a in extra):
        raise SpcsLlmError(f"{extra_where} must be a list of strings, got {extra!r}")
    args, notes = list(own.values()), []
    seen = dict(own)
    for arg in extra:
        check_arg(arg, extra_where)
        flag = flag_of(arg)
        if flag in own:
            if _value(arg) != _value(own[flag]):
                notes.append(f"{extra_where} has {arg}; using {own[flag]} from the plan's sizing fields")
            continue
        if flag in seen:
            if _value(arg) == _value(seen[flag]):
                continue  # the same setting written twice: keep one
            raise SpcsLlmError(f"{extra_where} sets {flag} twice ({seen[flag]!r} and {arg!r})",
                               hint=f"keep one {flag} in {extra_where}")
        seen[flag] = arg
        args.append(arg)
    return args, notes


def _derived(dtype: str | None, quantization: str | None, kv_cache_dtype: str | None) -> list[str]:
    out = []
    dtype_value = _optional_word(dtype, "selection.dtype")
    if dtype_value is not None:
        if dtype_value not in VLLM_DTYPES:
            raise SpcsLlmError(f"selection.dtype {dtype!r} is not a vLLM --dtype value",
                               hint="allowed: " + ", ".join(VLLM_DTYPES))
        out.append(f"--dtype={dtype_value}")
    quant = _optional_word(quantization, "selection.quantization")
    if quant is not None:
        out.append(f"--quantization={quant}")
    kv = _optional_word(kv_cache_dtype, "selection.kv_cache_dtype")
    if kv is not None:
        out.append(f"--kv-cache-dtype={kv}")
    return out


def _value(arg: str) -> object:
    """The value of --flag=value for comparisons: numbers compare as numbers, 'half' is float16."""
    text = arg.split("=", 1)[1] if "=" in arg else ""
    try:
        return float(text)
    except ValueError:
        return {"half": "float16"}.get(text.lower(), text.lower())


def _optional_word(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SpcsLlmError(f"{where} must be text, got {value!r}")
    text = value.strip().lower()
    if text in _UNSET:
        return None
    if not _WORD.match(text):
        raise SpcsLlmError(f"{where} {value!r} is not a single vLLM option value",
                           hint="use a plain value such as 'bfloat16', 'awq' or 'fp8'")
    return text


def _fraction(value: float) -> str:
    """0.9 -> '0.9', 1 -> '1.0': short and exact, never scientific notation."""
    return f"{float(value):.4f}".rstrip("0").rstrip(".") if float(value) != 1 else "1.0"
