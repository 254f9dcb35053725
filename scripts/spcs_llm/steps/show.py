"""Show where a deployment stands (offline): the plan's decisions so far and the next step.
Run it first when a conversation resumes."""

from __future__ import annotations

from .. import plan_file
from ..output import StepResult

# (field that marks a stage as done, what to run when it is missing); the deployment stages depend
# on the engine path chosen at the workers checkpoint
COMMON_STAGES = [
    ("selection.confirmed", "confirm the hardware: spcs-llm select --family <FAMILY>"),
    ("workers.confirmed", "answer the num_workers checkpoint: spcs-llm workers --engine <path> --confirm"),
    ("snowflake.role", "check the account: spcs-llm preflight"),
    ("snowflake.compute_pool", "create or pick the compute pool: spcs-llm pools; spcs-llm create-pool"),
    ("snowflake.service_name", "check the service name: spcs-llm service-check"),
]
PATH_STAGES = {
    "registry": [("registry.started_at", "deploy: load skills/spcs-llm/deploy-registry/SKILL.md")],
    "custom-image": [("custom_image.rendered_dir", "render: load skills/spcs-llm/deploy-custom-image/SKILL.md"),
                     ("custom_image.image_pushed_at", "build and push the image: spcs-llm image build; image push")],
}
DONE = {
    "registry": "the deployment script was started: follow it with spcs-llm status --wait, then spcs-llm usage",
    "custom-image": "image pushed: create the service (deploy-custom-image playbook), then spcs-llm status --wait",
    None: "choose the deployment path at the workers checkpoint",
}


def add_arguments(parser) -> None:
    parser.add_argument("--plan", default=plan_file.DEFAULT_PLAN_PATH,
                        help=f"the plan file (default {plan_file.DEFAULT_PLAN_PATH})")


def run(args) -> StepResult:
    plan = plan_file.load(args.plan)
    done, next_step = [], None
    path = plan.get("engine_path")
    for field, action in COMMON_STAGES + PATH_STAGES.get(path, []):
        if plan_file.get(plan, field):
            done.append(field)
        elif next_step is None:
            next_step = action
    history = plan.get("history", [])
    data = {
        "plan_path": args.plan,
        "model": plan.get("model", {}),
        "request": plan.get("request", {}),
        "selection": plan.get("selection", {}),
        "workers": plan.get("workers", {}),
        "engine_path": plan.get("engine_path"),
        "snowflake": plan.get("snowflake", {}),
        "done": done,
        "next_step": next_step or DONE.get(path, DONE[None]),
        "last_step": history[-1]["step"] if history else None,
        "updated_at": plan.get("updated_at"),
    }
    sel = data["selection"]
    lines = [f"plan {args.plan} (updated {data['updated_at']}, last step: {data['last_step']})",
             f"model: {data['model'].get('id')}"]
    if sel:
        state = "confirmed" if sel.get("confirmed") else "proposed"
        lines.append(f"hardware: {sel.get('instance_family')} TP={sel.get('tensor_parallel_size')} "
                     f"x {sel.get('replicas_per_node')} replica(s), {state}")
    if data["workers"]:
        w = data["workers"]
        lines.append(f"workers: {w.get('engine_path')} gpu_requests={w.get('gpu_requests')} "
                     f"num_workers={w.get('num_workers')} instances {w.get('min_instances')}..{w.get('max_instances')}")
    for key, value in data["snowflake"].items():
        if not isinstance(value, dict):
            lines.append(f"snowflake.{key}: {value}")
    lines.append(f"next: {data['next_step']}")
    return StepResult(data=data, text="\n".join(lines), prompt="plan_summary")
