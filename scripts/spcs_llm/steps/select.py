"""Record the user's hardware choice in the plan (offline): an instance family from the plan's
candidates and, optionally, another of its tensor-parallel options. Nothing is re-sized: the
choice must be one the plan already evaluated."""

from __future__ import annotations

from .. import plan_file
from ..errors import SpcsLlmError
from ..output import StepResult
from .plan import selection_from_candidate


def add_arguments(parser) -> None:
    parser.add_argument("--family", required=True, help="instance family from the plan, e.g. GPU_NV_M")
    parser.add_argument("--cloud", help="when the plan covers several clouds with the same family name")
    parser.add_argument("--tp", type=int, help="another tensor-parallel size the plan evaluated for this family")
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
    tp = args.tp or chosen["tensor_parallel_size"]
    option = next((o for o in chosen["options"] if o["tensor_parallel_size"] == tp), None)
    if option is None:
        allowed = ", ".join(str(o["tensor_parallel_size"]) for o in chosen["options"])
        raise SpcsLlmError(f"TP={tp} was not evaluated for {chosen['instance_family']}; allowed: {allowed}")
    if not option["fits"]:
        why = "; ".join(option["reasons"]) or "it does not fit"
        raise SpcsLlmError(f"{chosen['instance_family']} at TP={tp} cannot serve the plan: {why}",
                           hint="; ".join(option["suggestions"]) or None, exit_code=1)
    changes = selection_from_candidate(chosen, confirmed=True, option=option)
    if plan.get("workers"):
        changes["workers.confirmed"] = False  # the workers answer was for another node shape
    plan_file.update(plan, "select", changes)
    plan_file.save(plan, args.plan)
    data = {key.split(".", 1)[1]: value for key, value in changes.items() if key.startswith("selection.")}
    data["plan_path"] = args.plan
    text = (f"selected {chosen['instance_family']} ({chosen['cloud']}, {chosen['gpu_count']}x {chosen['gpu']}): "
            f"TP={tp}, {chosen['gpu_count'] // tp} replica(s) per node, "
            f"{chosen['credits_per_hour']} credits/h per node\nvLLM args: {' '.join(option['vllm_args'])}\n"
            f"recorded in {args.plan}; next: spcs-llm workers --engine registry|custom-image")
    return StepResult(data=data, text=text)
