"""Record the user's hardware choice in the plan (offline): an instance family from the plan's
candidates and, optionally, another of its layouts (tensor-parallel size, pre-quantized checkpoint).
Nothing is re-sized: the choice must be one the plan already evaluated. Choosing a layout of a
pre-quantized checkpoint makes that checkpoint the plan's model (model.id), which every deployment
path then serves."""

from __future__ import annotations

from .. import plan_file
from ..checkpoints import needs_checkpoint_error
from ..errors import EXIT_NEGATIVE, SpcsLlmError
from ..models import resolve_model
from ..output import StepResult
from .plan import checkpoint_facts, model_changes, selection_from_candidate


def add_arguments(parser) -> None:
    parser.add_argument("--family", required=True, help="instance family from the plan, e.g. GPU_NV_M")
    parser.add_argument("--cloud", help="when the plan covers several clouds with the same family name")
    parser.add_argument("--tp", type=int, help="another tensor-parallel size the plan evaluated for this family")
    parser.add_argument("--checkpoint", metavar="REPO",
                        help="another checkpoint the plan evaluated for this family (the model as asked, or one of "
                             "its pre-quantized checkpoints, e.g. Qwen/Qwen2.5-14B-Instruct-AWQ)")
    parser.add_argument("--plan", default=plan_file.DEFAULT_PLAN_PATH, help="plan file (deployment.yaml)")


def run(args) -> StepResult:
    plan = plan_file.load(args.plan)
    candidates = [c for c in plan_file.require(plan, "candidates", "spcs-llm plan")
                  if c["instance_family"] == args.family.upper() and (not args.cloud or c["cloud"] == args.cloud)]
    if not candidates:
        names = sorted({c["instance_family"] for c in plan["candidates"]})
        raise SpcsLlmError(f"instance family {args.family!r} is not among the plan's candidates; "
                           f"allowed: {', '.join(names)}")
    if len(candidates) > 1:
        raise SpcsLlmError(f"{args.family} is offered on several clouds in this plan; add --cloud "
                           + " or --cloud ".join(c["cloud"] for c in candidates))
    chosen = candidates[0]
    _refuse_stale_sizing(chosen, plan)
    option = _option(chosen, args.tp, args.checkpoint, plan)
    tp = option["tensor_parallel_size"]
    if not option["fits"]:
        why = "; ".join(option["reasons"]) or "it does not fit"
        raise SpcsLlmError(f"{chosen['instance_family']} at TP={tp} cannot serve the plan: {why}",
                           hint="; ".join(option["suggestions"]) or None, exit_code=EXIT_NEGATIVE)
    if option.get("within_node_limit") is False:
        raise SpcsLlmError(
            f"{chosen['instance_family']} at TP={tp} needs {option['nodes']} nodes for the plan's concurrency; the "
            f"family offers up to {chosen.get('node_limit')}", exit_code=EXIT_NEGATIVE,
            hint="choose a family the plan ranks as fitting, or plan again with a lower --concurrency")
    if option.get("needs_checkpoint"):
        raise _needs_checkpoint(plan, option)
    changes = selection_from_candidate(chosen, confirmed=True, option=option)
    model_id = option.get("model_id") or plan_file.get(plan, "model.id")
    if model_id != plan_file.get(plan, "model.id"):  # another checkpoint: it becomes the plan's model
        asked = resolve_model(plan_file.get(plan, "request.model") or plan_file.get(plan, "model.base_model")
                              or plan_file.get(plan, "model.id"))
        changes.update(model_changes(plan, checkpoint_facts(model_id, asked)))
    if plan.get("workers"):
        changes["workers.confirmed"] = False  # the workers answer was for another node shape
    plan_file.update(plan, "select", changes)
    plan_file.save(plan, args.plan)
    data = {key.split(".", 1)[1]: value for key, value in changes.items() if key.startswith("selection.")}
    data["plan_path"] = args.plan
    data["model_id"] = plan_file.get(plan, "model.id")
    text = (f"selected {chosen['instance_family']} ({chosen['cloud']}, {chosen['gpu_count']}x {chosen['gpu']}): "
            f"TP={tp}, {chosen['gpu_count'] // tp} instance(s) per node, "
            f"{chosen['credits_per_hour']} credits/h per node\ndeploys: {data['model_id']}\n"
            f"vLLM args: {' '.join(option['vllm_args'])}\n"
            f"recorded in {args.plan}; next: spcs-llm workers --engine registry|custom-image")
    return StepResult(data=data, text=text)


def _refuse_stale_sizing(chosen: dict, plan: dict) -> None:
    """The account's own list (recorded by `spcs-llm pools`) can describe the family differently from
    the catalog the candidates were sized on (GPU_NV_S is a 16 GiB T4 in some China accounts, an A10G
    in the docs): recording that sizing would confirm hardware the account does not have."""
    live = next((f for f in plan_file.get(plan, "snowflake.live_families") or ()
                 if str(f.get("name", "")).upper() == chosen["instance_family"]), None)
    if live is None or chosen.get("source") == "live":
        return
    differs = [f"{label} {live[key]} here, {chosen.get(key)} in the plan" for key, label in
               (("gpu_memory_gib", "GiB per GPU"), ("gpu_count", "GPUs"))
               if live.get(key) and chosen.get(key) is not None and float(live[key]) != float(chosen[key])]
    if differs:
        raise SpcsLlmError(f"{chosen['instance_family']} was sized on the catalog, but your account reports it "
                           f"differently ({'; '.join(differs)}; GPU {live.get('gpu')})",
                           hint="rank the plan on the account's families first: spcs-llm plan --replan, "
                                "then select again")


def _option(chosen: dict, tp: int | None, checkpoint: str | None, plan: dict) -> dict:
    """The layout asked for: the candidate's own, or the one at --tp / --checkpoint."""
    model_id = checkpoint or chosen.get("model_id") or plan_file.get(plan, "model.id")
    tp = tp or (chosen["tensor_parallel_size"] if model_id == chosen.get("model_id") else None)
    options = [o for o in chosen["options"] if o.get("model_id", model_id).lower() == model_id.lower()]
    if not options:
        names = sorted({o.get("model_id") for o in chosen["options"] if o.get("model_id")})
        raise SpcsLlmError(f"checkpoint {model_id!r} was not evaluated for {chosen['instance_family']}; "
                           f"allowed: {', '.join(names)}")
    if tp is None:  # a checkpoint without --tp: its smallest TP that fits
        tp = next((o["tensor_parallel_size"] for o in options if o["fits"]), options[-1]["tensor_parallel_size"])
    option = next((o for o in options if o["tensor_parallel_size"] == tp), None)
    if option is None:
        allowed = ", ".join(str(o["tensor_parallel_size"]) for o in options)
        raise SpcsLlmError(f"TP={tp} was not evaluated for {chosen['instance_family']} with {model_id}; "
                           f"allowed: {allowed}")
    return option



def _needs_checkpoint(plan: dict, option: dict) -> SpcsLlmError:
    """--quantization with no pre-quantized checkpoint: vLLM would load the 16-bit weights, not what was sized."""
    return needs_checkpoint_error(option.get("model_id") or plan_file.get(plan, "model.id"),
                                  plan_file.get(plan, "request.quantization") or option.get("quantization"))
