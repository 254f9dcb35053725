"""Observed KV cache: what a running vLLM reported, recorded in the plan and used as truth.

vLLM logs the KV cache it allocated at start-up. Estimates of its overheads (activations,
non-torch memory, CUDA graphs) are calibrated but never exact, so once a deployment has logged
its number, later sizing of the same configuration (model checkpoint, GPU, tensor parallel size,
gpu_memory_utilization, quantization) uses the logged tokens instead of the estimate and says so.

Log lines, by vLLM release:
- V0 (<= 0.10):  "# GPU blocks: 27153, # CPU blocks: 2048" (x 16 tokens per block) and, from 0.6.x,
                 "Maximum concurrency for 8192 tokens per request: 53.03x"; the V0 error reads
                 "...larger than the maximum number of tokens that can be stored in KV cache (N)"
- V1 (>= 0.8):   "GPU KV cache size: 434,336 tokens"
"""

from __future__ import annotations

import datetime as _dt
import re

from .errors import SpcsLlmError

PLAN_FIELD = "observed.kv_cache"  # a list of mappings, one per configuration (see MATCH_KEYS)

_PATTERNS = (
    re.compile(r"maximum number of tokens that can be stored in KV cache \((\d[\d,_]*)\)", re.IGNORECASE),
    re.compile(r"GPU KV cache size:\s*(\d[\d,_]*)\s*tokens", re.IGNORECASE),
)
# V0 logs blocks, not tokens: "# GPU blocks: 27153, # CPU blocks: 2048" (16-token blocks on CUDA)
_V0_BLOCKS = re.compile(r"# GPU blocks:\s*(\d[\d,_]*)", re.IGNORECASE)
V0_BLOCK_SIZE = 16
_VERSION = re.compile(r"vLLM (?:API server )?version:? v?(\d+\.\d+(?:\.\d+)?[\w.+-]*)", re.IGNORECASE)

# What the KV cache depends on: another value of any of these is another configuration. The
# KV-cache dtype and max_model_len are not keys: vLLM allocates the same bytes whatever the context
# length, and an fp8 cache holds twice the tokens of a 16-bit one in those bytes (sizing converts).
MATCH_KEYS = ("model_id", "gpu", "tensor_parallel_size", "gpu_memory_utilization", "quantization")


def kv_tokens_from_log(text: str) -> int | None:
    """The KV-cache token count in a vLLM log (the last occurrence wins: a restart logs it again)."""
    found: list[tuple[int, int]] = []
    for pattern in _PATTERNS:
        found += [(m.start(), _int(m.group(1))) for m in pattern.finditer(text or "")]
    found += [(m.start(), _int(m.group(1)) * V0_BLOCK_SIZE) for m in _V0_BLOCKS.finditer(text or "")]
    return max(found)[1] if found else None


def _int(digits: str) -> int:
    return int(re.sub(r"[,_]", "", digits))


def vllm_version_from_log(text: str) -> str | None:
    """The vLLM version a start-up log names ("vLLM API server version 0.6.3"), if any."""
    found = _VERSION.findall(text or "")
    return found[-1] if found else None


def configuration(plan: dict) -> dict:
    """The plan's current configuration, as an observation is keyed (raises when incomplete)."""
    model = (plan.get("model") or {}).get("id")
    sel = plan.get("selection") or {}
    missing = [name for name, value in (("model.id", model), ("selection.gpu", sel.get("gpu")),
                                        ("selection.tensor_parallel_size", sel.get("tensor_parallel_size")),
                                        ("selection.gpu_memory_utilization", sel.get("gpu_memory_utilization")))
               if value is None]
    if missing:
        raise SpcsLlmError(f"the plan has no {', '.join(missing)}: an observed KV cache belongs to a configuration",
                           hint="run spcs-llm plan (and select) first, then record what the deployment logged")
    return {"model_id": model, "gpu": sel["gpu"], "instance_family": sel.get("instance_family"),
            "tensor_parallel_size": int(sel["tensor_parallel_size"]),
            "gpu_memory_utilization": float(sel["gpu_memory_utilization"]),
            "quantization": sel.get("quantization"), "kv_cache_dtype": sel.get("kv_cache_dtype") or "auto"}


def record_observed_kv(plan: dict, kv_tokens: int, *, source: str, vllm_version: str | None = None) -> dict:
    """Record a logged KV cache for the plan's current configuration (replacing an older observation
    of the same configuration) and return the plan; the caller saves it with plan_file.save."""
    from . import plan_file

    if isinstance(kv_tokens, bool) or not isinstance(kv_tokens, int) or kv_tokens < 1:
        raise SpcsLlmError(f"observed KV cache tokens {kv_tokens!r} must be a positive integer",
                           hint="copy N from the vLLM log line 'GPU KV cache size: N tokens'")
    entry = configuration(plan)
    entry.update(kv_cache_tokens=kv_tokens, source=str(source),
                 observed_at=_dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat())
    if vllm_version:
        entry["vllm_version"] = vllm_version
    kept = [o for o in plan_file.get(plan, PLAN_FIELD, []) if not same_configuration(o, entry)]
    return plan_file.update(plan, "observed kv cache", {PLAN_FIELD: kept + [entry]})


def same_configuration(a: dict, b: dict) -> bool:
    return all(_norm(a.get(k)) == _norm(b.get(k)) for k in MATCH_KEYS)


def find(observations, *, model_id: str, gpu: str, tensor_parallel_size: int, gpu_memory_utilization: float,
         quantization: str | None) -> dict | None:
    """The observation recorded for this configuration, if any (the latest recorded wins)."""
    wanted = {"model_id": model_id, "gpu": gpu, "tensor_parallel_size": tensor_parallel_size,
              "gpu_memory_utilization": gpu_memory_utilization, "quantization": quantization}
    hits = [o for o in observations or () if isinstance(o, dict) and same_configuration(o, wanted)]
    return hits[-1] if hits else None


def _norm(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, str):
        return value.lower()
    return value
