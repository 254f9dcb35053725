"""Render the Model Registry + vLLM deployment script for the plan, and start it on request.

Without flags: write the script (registers the model, then create_service with the plan's GPUs,
instances and vLLM arguments) and print a summary; nothing is started. --format prompt prints
the summary to confirm before a paid deployment. --execute --yes starts the script in the
background and records its pid and log in the plan; follow it with `spcs-llm status --wait` or
`tail -f <log>`. --dry-run prints what would be written or started and changes nothing (no
script, no plan change).

Routes: remote logging from Hugging Face on a CPU pool (default; --hf-secret names a Snowflake
SECRET holding the HF token), --snapshot-dir (upload a downloaded model folder, no Hugging Face
access needed), or --pre-logged (a Snowflake-provided model in SNOWFLAKE.MODELS).
"""

from __future__ import annotations

import datetime as _dt
import shlex
from pathlib import Path

from .. import plan_file
from ..errors import EXIT_ENVIRONMENT, EXIT_USAGE, SpcsLlmError
from ..output import StepResult
from ..registry.launch import command, is_running, start_background
from ..registry.script import render_script, route_text, script_paths, write_script
from ..registry.spec import Choices, build_spec, refuse_forbidden_role
from ..snowflake.access import describe_target, target_line
from ..snowflake.args import add_snowflake_arguments, connection_choice

STEP = "deploy-registry"
DEFAULT_OUT = Path(".spcs-llm") / "registry"

LIVE_FLAGS = ("--execute",)  # without --execute it only renders the script (offline)


def add_arguments(parser) -> None:
    add_snowflake_arguments(parser, writes=True)
    parser.add_argument("--out", metavar="DIR", default=None,
                        help=f"where to write the script, its log and result (default: {DEFAULT_OUT} beside the plan)")
    parser.add_argument("--execute", action="store_true",
                        help="start the script in the background (creates a paid service; needs --yes)")
    route = parser.add_argument_group("how the model gets into the registry (recorded in the plan)")
    route.add_argument("--hf-secret", metavar="NAME",
                       help="Snowflake SECRET (NAME, SCHEMA.NAME or DB.SCHEMA.NAME) holding the Hugging Face token "
                       "for gated models; the token itself never appears")
    route.add_argument("--snapshot-dir", metavar="PATH",
                       help="offline route: upload this downloaded model folder (config.json, tokenizer, weights)")
    route.add_argument("--pre-logged", metavar="NAME",
                       help="deploy this Snowflake-provided model from SNOWFLAKE.MODELS (as SHOW MODELS lists it)")
    route.add_argument("--pre-logged-version", metavar="VERSION",
                       help="version of the --pre-logged model (default: its default version)")
    route.add_argument("--remote", action="store_true",
                       help="switch back to remote logging from Hugging Face (the default route)")
    route.add_argument("--log-pool", metavar="POOL",
                       help="CPU compute pool for remote logging (default: SYSTEM_COMPUTE_POOL_CPU)")
    route.add_argument("--model-name", metavar="NAME", help="registry model name (default: from the model id)")
    route.add_argument("--version-name", metavar="NAME", help="registry version name (default: V1)")
    target = parser.add_argument_group("where (default: the plan's snowflake.* fields)")
    target.add_argument("--database", metavar="DB", help="database of the model and the service")
    target.add_argument("--schema", metavar="SCHEMA", help="schema of the model and the service")
    target.add_argument("--compute-pool", metavar="POOL", help="GPU compute pool of the service")
    target.add_argument("--name", metavar="SERVICE", help="service name")
    parser.add_argument("--no-ingress", action="store_true",
                        help="no public endpoint (SQL and mv.run still work; REST from outside does not)")


def _refuse_replay(args) -> None:
    """The script logs in to Snowflake itself: in a replay (recorded responses stand in for the
    account) starting it would reach for the real account (walk rest1), so it is refused."""
    from ..snowflake.replay import ENV_REPLAY_DIR, replay_dir_from_env

    if not args.dry_run and replay_dir_from_env() is not None:
        raise SpcsLlmError(f"--execute --yes is not started in a replay ({ENV_REPLAY_DIR} is set): the deployment "
                           "script logs in to Snowflake itself, which recorded responses cannot stand in for",
                           hint=f"unset {ENV_REPLAY_DIR} to deploy for real; --execute --dry-run shows what it runs",
                           exit_code=EXIT_ENVIRONMENT)


def run(args) -> StepResult:
    plan_path = Path(args.plan)
    plan = plan_file.load(plan_path)
    # The script logs in later, on its own: bake in the connection the pack's rule picks now
    # (flag > plan > default chain), so it cannot land on another account.
    choice = connection_choice(args, plan)
    target = describe_target(choice)
    # A connection the user named is baked in even when it does not resolve here: the script then
    # fails to log in instead of falling back to the default connection (another account).
    connection = choice.name or (None if target["problem"] else target["connection"])
    choices = Choices(
        hf_secret=args.hf_secret, snapshot_dir=args.snapshot_dir, pre_logged=args.pre_logged,
        pre_logged_version=args.pre_logged_version, remote=args.remote, log_pool=args.log_pool,
        model_name=args.model_name, version_name=args.version_name, connection=connection,
        no_ingress=args.no_ingress, database=args.database, schema=args.schema,
        compute_pool=args.compute_pool, service=args.name,
    )
    spec = build_spec(plan, str(args.plan), choices)

    if args.execute:
        # Refuse before writing anything: these are answers the user has to give first.
        refuse_forbidden_role(spec.role)
        if not args.yes and not args.dry_run:
            raise SpcsLlmError(
                "--execute creates a Snowflake service that uses GPU credits, and needs --yes",
                hint="review the summary (spcs-llm deploy-registry --format prompt), then run "
                "spcs-llm deploy-registry --execute --yes",
                exit_code=EXIT_USAGE,
            )
        _refuse_running(plan)
        _refuse_replay(args)
        if not args.dry_run and target["problem"]:
            raise SpcsLlmError(f"connection {target['connection']!r}: {target['problem']}; the deployment script "
                               "would not log in to the account you mean",
                               hint="name a connection from ~/.snowflake/connections.toml with --connection "
                                    "(`snow connection list`), then start again", exit_code=EXIT_ENVIRONMENT)

    out_dir = Path(args.out) if args.out else plan_path.resolve().parent / DEFAULT_OUT
    if args.dry_run:  # render (so template errors still show) but write nothing
        paths = script_paths(spec, out_dir)
        render_script(spec, paths)
    else:
        paths, _ = write_script(spec, out_dir)
    argv = command(paths.script, paths.log, paths.result)

    mode, pid = "rendered", None
    if args.execute and args.dry_run:
        mode = "dry-run"
    elif args.execute:
        pid = start_background(paths.script, paths.log, paths.result)
        mode = "started"
    elif args.dry_run:
        mode = "dry-run"

    # Each route records its own answers; the others' stay, so switching back needs no re-asking.
    changes = {"engine_path": "registry", "registry.source": spec.source}
    if choice.name:  # named by --connection (or already recorded); a default is recorded once it logs in
        changes["snowflake.connection"] = choice.name
    if spec.source == "pre-logged":
        changes.update({"registry.pre_logged_model": spec.model_name, "registry.pre_logged_version": spec.version_name})
    else:
        changes.update({"registry.model_name": spec.model_name, "registry.version_name": spec.version_name})
    if spec.source == "remote":
        changes.update({"registry.hf_secret": spec.hf_secret, "registry.log_pool": spec.log_pool})
    if spec.source == "snapshot":
        changes["registry.snapshot_dir"] = spec.snapshot_dir
    changes.update({
        "registry.ingress_enabled": spec.ingress_enabled,
        "registry.engine_args": spec.engine_args,
        "registry.service_fqn": spec.service_fqn,
        "registry.compute_pool": spec.compute_pool,
        # status, logs, manage and debug name the service by snowflake.*: a --name given only here
        # must reach them too (walk rest1: `status` after `deploy-registry --name` said "no service name")
        "snowflake.database": spec.database, "snowflake.schema": spec.schema, "snowflake.service_name": spec.service,
        "registry.script_path": str(paths.script),
        "registry.log_path": str(paths.log),
        "registry.result_path": str(paths.result),
    })
    if pid is not None:
        changes.update({"registry.pid": pid, "registry.started_at": _now()})
    if mode != "dry-run":
        plan_file.update(plan, STEP, changes)
        plan["registry"] = {k: v for k, v in plan["registry"].items() if v is not None}  # e.g. no secret
        plan_file.save(plan, plan_path)

    data = _data(spec, paths, argv, mode, pid, args.plan)
    data.update(execute=bool(args.execute), connection=target["connection"], account=target["account"],
                acting_on=target_line(target, "dry-run" if args.dry_run else "live"))
    return StepResult(data=data, text=_text(data), prompt="deployment_summary_registry")


def _refuse_running(plan: dict) -> None:
    pid = plan_file.get(plan, "registry.pid")
    if is_running(pid):
        log = plan_file.get(plan, "registry.log_path", "its log file")
        raise SpcsLlmError(
            f"a deployment started by deploy-registry is still running (pid {pid})",
            hint=f"follow it with: tail -f {log}  (or wait for it to finish before starting another)",
            exit_code=EXIT_USAGE,
        )


def _data(spec, paths, argv, mode, pid, plan_arg) -> dict:
    plan_flag = "" if str(plan_arg) == plan_file.DEFAULT_PLAN_PATH else f" --plan {shlex.quote(str(plan_arg))}"
    follow = [f"spcs-llm status --wait{plan_flag}", f"tail -f {shlex.quote(str(paths.log))}"]
    return {
        "step": STEP,
        "mode": mode,  # rendered | dry-run | started
        "script_path": str(paths.script),
        "log_path": str(paths.log),
        "result_path": str(paths.result),
        "route": spec.source,
        "route_text": route_text(spec),
        "model_id": spec.model_id,
        "model": spec.model_fqn,
        "version": spec.version_name,
        "service": spec.service_fqn,
        "compute_pool": spec.compute_pool,
        "instance_family": spec.instance_family,
        "credits_per_hour": spec.credits_per_hour,
        "idle": idle_note(spec.create_service_kwargs(), spec.credits_per_hour),
        "role": spec.role,
        "create_service": spec.create_service_kwargs(),
        "engine_args": spec.engine_args,
        "sources": spec.sources,
        "warnings": spec.warnings,
        "command": argv,
        "pid": pid,
        "follow": follow,
        "execute_command": f"spcs-llm deploy-registry{plan_flag} --execute --yes",
    }


def _text(data: dict) -> str:
    kwargs = data["create_service"]
    instances = f"{kwargs['min_instances']}..{kwargs['max_instances']}"
    family = f" ({data['instance_family']})" if data["instance_family"] else ""
    lines = [
        data["acting_on"],
        f"deploy-registry: {_verb(data)} {data['script_path']}",
        f"  model:    {data['model']} version {data['version'] or '(default)'}  [{data['route_text']}]",
        f"  service:  {data['service']} on {data['compute_pool']}{family}",
        f"            gpu_requests={kwargs['gpu_requests']}, instances {instances}, "
        f"ingress {'on' if kwargs['ingress_enabled'] else 'off'}"
        + (f", num_workers={kwargs['num_workers']}" if "num_workers" in kwargs else ""),
        f"  vLLM:     {' '.join(data['engine_args'])}",
        f"  log:      {data['log_path']}",
    ]
    if data["credits_per_hour"] is not None:
        lines.append(f"  cost:     about {data['credits_per_hour']:g} credits per hour per pool node while it runs")
    if data.get("idle"):
        lines.append(f"  idle:     {data['idle']}")
    lines += [f"  warning:  {w}" for w in data["warnings"]]
    if data["mode"] == "started":
        lines += [f"started in the background (pid {data['pid']}); follow it with:"]
        lines += [f"  {c}" for c in data["follow"]]
    elif data["mode"] == "dry-run":
        lines += ["would run: " + " ".join(shlex.quote(a) for a in data["command"]),
                  "nothing was started or written"]
    else:
        lines += ["next: review the script and the summary (spcs-llm deploy-registry --format prompt), then",
                  f"      {data['execute_command']}"]
    return "\n".join(lines)


def idle_note(kwargs: dict, credits_per_hour: float | None) -> str:
    """What an unused deployment bills, said before the yes (walk reg1: the user learnt the daily
    figure only afterwards). A public endpoint rules out auto-suspend (spcs_facts: auto-suspend tracks
    service-function traffic only); a registry service with min_instances 0 and no endpoint suspends
    after 30 minutes without traffic (snowflake_ml_api.md, service-management)."""
    per_day = f"about {credits_per_hour * 24:g} credits a day per node" if credits_per_hour is not None \
        else "the pool's nodes all day"
    if kwargs.get("ingress_enabled"):
        return (f"nothing suspends it on its own (a service with a public endpoint does not auto-suspend): "
                f"it bills {per_day}, used or not, until you suspend it (spcs-llm manage suspend)")
    if kwargs.get("min_instances") == 0:
        return ("Snowflake suspends it after about 30 minutes without traffic (min_instances 0, no public "
                "endpoint); the next call waits minutes for the node and the model")
    return (f"it keeps running with min_instances {kwargs.get('min_instances')}: {per_day} until you suspend "
            "it (spcs-llm manage suspend); min_instances 0 lets Snowflake suspend it after 30 idle minutes "
            "(spcs-llm workers --engine registry --min-instances 0 --confirm, then render again)")


def _verb(data: dict) -> str:
    if data["mode"] != "dry-run":
        return data["mode"]
    return "would start" if data["execute"] else "would write"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
