"""Show where a deployment stands (offline): the plan's decisions so far and the next step.
Run it first when a conversation resumes. For a registry deployment started in the background it
also reads the script's outcome file (deployed, failed with its phase and error, still running)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import plan_file
from ..output import StepResult
from ..registry.launch import is_running

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
                     ("custom_image.image_pushed_at", "build and push the image: spcs-llm image build; image push"),
                     ("custom_image.executed_parts:service",
                      "create the service: spcs-llm render-custom --part service (deploy-custom-image playbook)"),
                     ("custom_image.executed_parts:function",
                      "create the service function: spcs-llm render-custom --part function")],
}
DONE = {
    "registry": "the deployment script was started: follow it with spcs-llm status --wait, then spcs-llm usage",
    "custom-image": "service and function created: check with spcs-llm status, call it with render-custom --part "
                    "test; operate it with the manage playbook",
    None: "choose the deployment path at the workers checkpoint",
}


def add_arguments(parser) -> None:
    parser.add_argument("--plan", default=plan_file.DEFAULT_PLAN_PATH,
                        help=f"the plan file (default {plan_file.DEFAULT_PLAN_PATH})")


def _next_stage(plan: dict, stages: list[tuple[str, str]]) -> tuple[list[str], str | None]:
    """Done fields, and the first missing stage after the last one done: a deployment started
    without preflight (or with another plan) is past preflight, so that is not its next step."""
    done = [field for field, _ in stages if _stage_done(plan, field)]
    last = max((i for i, (field, _) in enumerate(stages) if field in done), default=-1)
    missing = [action for field, action in stages[last + 1:] if field not in done]
    return done, (missing[0] if missing else None)


def _stage_done(plan: dict, key: str) -> bool:
    """A field that is set, or `list_field:item` for an item recorded in a list (a part that ran)."""
    field, _, item = key.partition(":")
    value = plan_file.get(plan, field)
    return item in (value or []) if item else bool(value)


def registry_outcome(plan: dict) -> dict | None:
    """What the background deployment script reported in its result file (None: never started)."""
    if not plan_file.get(plan, "registry.started_at"):
        return None
    log = plan_file.get(plan, "registry.log_path")
    result_path = plan_file.get(plan, "registry.result_path")
    result: dict = {}
    if result_path and Path(result_path).is_file():
        try:
            loaded = json.loads(Path(result_path).read_text(encoding="utf-8"))
            result = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            result = {}
    status = result.get("status")
    running = is_running(plan_file.get(plan, "registry.pid"))
    if status in (None, "running") and not running:
        status = "stopped"  # the process is gone without writing its outcome (killed, machine restarted)
    elif status is None:
        status = "running"
    return {"status": status, "phase": result.get("phase"), "error": result.get("error"),
            "hint": result.get("hint"), "log_path": log, "result_path": result_path}


def _outcome_next(outcome: dict) -> str | None:
    log = outcome.get("log_path") or "the deployment log"
    if outcome["status"] in ("failed", "refused", "interrupted"):
        return (f"the background deployment {outcome['status']} in phase {outcome.get('phase') or '?'}: "
                f"{outcome.get('error') or 'see the log'}; read {log}, fix the cause (deploy-registry playbook, "
                "section 'Follow the deployment'), then start it again with deploy-registry --execute --yes")
    if outcome["status"] == "stopped":
        return (f"the deployment script is no longer running and wrote no outcome: read {log}, then check "
                "the service with spcs-llm status")
    if outcome["status"] == "running":
        return f"the deployment script is still running: follow it with spcs-llm status --wait or tail -f {log}"
    if outcome["status"] == "deployed":  # not "the script was started": it finished (walk rest1)
        return ("deployed: spcs-llm status --wait says when the model answers; then call it with spcs-llm usage "
                "(SQL, Python), or over REST (rest-access playbook)")
    return None


def _done(plan: dict, path: str | None) -> str:
    """A custom-image service without a public endpoint answers REST with nothing: say so (walk gw1: a
    user with a 404 from LiteLLM got no hint from show)."""
    text = DONE.get(path, DONE[None])
    if path == "custom-image" and not plan_file.get(plan, "custom_image.public_endpoint"):
        text += ("; it has no public endpoint, so REST and OpenAI clients (LiteLLM, Dify) cannot reach it: the "
                 "rest-access playbook adds one")
    return text


def run(args) -> StepResult:
    plan = plan_file.load(args.plan)
    path = plan.get("engine_path")
    done, next_step = _next_stage(plan, COMMON_STAGES + PATH_STAGES.get(path, []))
    outcome = registry_outcome(plan) if path == "registry" else None
    if outcome is not None:
        next_step = _outcome_next(outcome) or next_step
    history = plan.get("history", [])
    data = {
        "plan_path": args.plan,
        "model": plan.get("model", {}),
        "request": plan.get("request", {}),
        "selection": plan.get("selection", {}),
        "workers": plan.get("workers", {}),
        "engine_path": plan.get("engine_path"),
        "snowflake": plan.get("snowflake", {}),
        "hf_secret": plan_file.get(plan, "registry.hf_secret") or plan_file.get(plan, "custom_image.hf_secret"),
        "done": done,
        "registry_deployment": outcome,
        "next_step": next_step or _done(plan, path),
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
        if isinstance(value, list):  # live_families: the names, not a dump of every mapping (walk reg1)
            value = ", ".join(str(v.get("name", v) if isinstance(v, dict) else v) for v in value)
        if not isinstance(value, dict):
            lines.append(f"snowflake.{key}: {value}")
    if outcome is not None:
        lines.append(f"registry deployment: {outcome['status']}"
                     + (f" (phase {outcome['phase']})" if outcome.get("phase") else ""))
    lines.append(f"next: {data['next_step']}")
    return StepResult(data=data, text="\n".join(lines), prompt="plan_summary")
