"""What is sized is what is deployed: the checks and flags every deployment path applies to the
plan's model (offline).

`plan --quantization awq` on a 16-bit model sizes 4-bit weights, but vLLM only applies FP8 (and
bitsandbytes) at load time; AWQ, GPTQ, MXFP4 and INT8 come from a pre-quantized checkpoint. The
plan's model.id must then be that checkpoint's repository, or the service would load the
full-precision weights onto GPUs sized for a quarter of them.
"""

from __future__ import annotations

from . import catalog, plan_file
from .errors import SpcsLlmError
from .sizing import ONLINE_QUANTIZATIONS


def missing_checkpoint(plan: dict) -> str | None:
    """The quantization the plan was sized for that its model.id does not provide, or None."""
    method = plan_file.get(plan, "request.quantization")
    if not method or method in ONLINE_QUANTIZATIONS:
        return None
    return None if plan_file.get(plan, "model.checkpoint_quantization") == method else method


def needs_checkpoint_error(model_id: str, method: str) -> SpcsLlmError:
    known = [e["id"] for e in catalog.variants_of(model_id)]
    listing = (f"known checkpoints of {model_id}: {', '.join(known)}" if known
               else f"the catalog knows no pre-quantized checkpoint of {model_id}")
    return SpcsLlmError(
        f"the plan sized {model_id} as {method} weights, but vLLM cannot quantize to {method} at load time and the "
        f"plan names no {method} checkpoint: the service would load the full-precision weights ({listing})",
        hint=f"plan again with --model <a {method} checkpoint's repository>"
             + (f", e.g. spcs-llm plan --replan --model {known[0]}" if known else ""))


def require_deployable(plan: dict) -> None:
    """Refuse (exit 2) a plan whose model.id is not the quantized checkpoint it was sized as."""
    method = missing_checkpoint(plan)
    if method:
        raise needs_checkpoint_error(str(plan_file.get(plan, "model.id")), method)


def vllm_quantization(plan: dict) -> str | None:
    """The --quantization vLLM must be given: only a method it applies at load time to 16-bit weights.
    A pre-quantized checkpoint declares its method in config.json, and vLLM then picks its fastest
    kernel (e.g. awq_marlin); naming the method would force the slower generic one."""
    checkpoint = plan_file.get(plan, "model.checkpoint_quantization")
    for key in ("selection.quantization", "request.quantization"):
        method = plan_file.get(plan, key)
        if method and method in ONLINE_QUANTIZATIONS and method != checkpoint:
            return method
    return None
