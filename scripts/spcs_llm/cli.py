"""`spcs-llm <step> ...`: parse, dispatch to one step module, print its result in one place.

Only the chosen step's module is imported, so offline steps never pay for (or need) the
Snowflake libraries.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from .errors import EXIT_ENVIRONMENT, EXIT_USAGE, SpcsLlmError
from .flags import check_values
from .output import StepResult, emit, emit_error

ENV_DEBUG = "SPCS_LLM_DEBUG"  # 1: unexpected errors print their traceback (same as --debug)

# step name -> (module, one-line summary). Each module defines add_arguments(parser) and
# run(args) -> StepResult.
STEPS: dict[str, tuple[str, str]] = {
    "models": ("spcs_llm.steps.models", "list or filter the model catalog (offline)"),
    "plan": ("spcs_llm.steps.plan", "rank instance families for a model and write deployment.yaml (offline)"),
    "size": ("spcs_llm.steps.size", "vLLM memory sizing of one model/GPU/TP configuration (offline)"),
    "select": ("spcs_llm.steps.select", "record the chosen instance family and TP in the plan (offline)"),
    "workers": ("spcs_llm.steps.workers", "gpu_requests, replicas and num_workers for the node (offline)"),
    "show": ("spcs_llm.steps.show", "where the deployment stands and the next step (offline)"),
    "preflight": ("spcs_llm.steps.preflight", "check account, role, privileges, event table before deploying"),
    "pools": ("spcs_llm.steps.pools", "live compute pools and GPU families, checked against the plan"),
    "create-pool": ("spcs_llm.steps.create_pool", "create the plan's compute pool (costs credits: --yes)"),
    "service-check": ("spcs_llm.steps.service_check", "is the service name free? rename, replace or keep"),
    "deploy-registry": ("spcs_llm.steps.deploy_registry", "registry + vLLM deploy script (--execute --yes)"),
    "render-custom": ("spcs_llm.steps.render_custom", "custom-image spec and SQL from the plan (--part P --execute)"),
    "image": ("spcs_llm.steps.image", "build or push the custom vLLM image (docker, snow; push needs --yes)"),
    "status": ("spcs_llm.steps.status", "service, containers and endpoint; --wait until it answers"),
    "logs": ("spcs_llm.steps.logs", "container logs: current and previous run, and the event table (read-only)"),
    "events": ("spcs_llm.steps.events", "platform events: exits, OOMKilled, image pulls, probes (read-only)"),
    "metrics": ("spcs_llm.steps.metrics", "memory, GPU memory and utilisation per container and GPU (read-only)"),
    "diagnose": ("spcs_llm.steps.diagnose", "match logs, events, metrics and status to known failures and fixes"),
    "manage": ("spcs_llm.steps.manage", "suspend, resume, scale, auto-suspend or upgrade a service (--yes)"),
    "teardown": ("spcs_llm.steps.teardown", "drop functions, service, pool (if unused) and more, in order (--yes)"),
    "cost": ("spcs_llm.steps.cost", "credits by pool and service over a window, and what bills now (read-only)"),
    "usage": ("spcs_llm.steps.usage", "SQL, Python and REST snippets for the registry service (offline)"),
    "proxy": ("spcs_llm.steps.proxy", "serve the concurrent service-function proxy in front of vLLM"),
    "access": ("spcs_llm.steps.access", "REST access: caller user/role, network policy, service-role grant, PAT"),
    "endpoint": ("spcs_llm.steps.endpoint", "public REST endpoint: url, test (one chat request, 404 diagnosis), bench"),
    "gateway": ("spcs_llm.steps.gateway", "local OpenAI-compatible gateway to the endpoint (Bearer in, PAT out)"),
    "install-skills": ("spcs_llm.steps.install_skills", "install the playbooks for an assistant (offline)"),
}


def _top_help() -> str:
    width = max(len(name) for name in STEPS)
    lines = [f"  {name.ljust(width)}  {summary}" for name, (_, summary) in STEPS.items()]
    return (
        "usage: spcs-llm <step> [options]   (spcs-llm <step> --help for a step's options)\n"
        "       spcs-llm --version           (print the pack's version)\n\n"
        "steps:\n" + "\n".join(lines) + "\n\n"
        "exit codes: 0 ok, 1 the step's answer is no (nothing fits, checks failed),\n"
        "            2 bad input, 3 environment (Snowflake, network, missing tool)\n"
    )


def build_parser(step: str, module) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"spcs-llm {step}", description=module.__doc__)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json",
                     help="print the result as JSON (stable schema, see docs/cli.md)")
    fmt.add_argument("--format", choices=["text", "json", "prompt"], default="text",
                     help="text (default), json, or prompt: the checkpoint text for an assistant")
    module.add_arguments(parser)
    if "--debug" not in parser._option_string_actions:
        parser.add_argument("--debug", action="store_true",
                            help=f"show the Python traceback of an unexpected error (also: {ENV_DEBUG}=1)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(_top_help())
        return 0 if argv else EXIT_USAGE
    if argv[0] == "--version":
        from . import __version__

        print(__version__)
        return 0
    step, rest = argv[0], argv[1:]
    if step not in STEPS:
        sys.stderr.write(f"spcs-llm: unknown step {step!r}; allowed: {', '.join(STEPS)}\n")
        return EXIT_USAGE
    module = importlib.import_module(STEPS[step][0])
    parser = build_parser(step, module)
    args = parser.parse_args(rest)
    args.format = args.format or "text"
    debug = bool(getattr(args, "debug", False)) or os.environ.get(ENV_DEBUG, "") not in ("", "0")
    try:
        _forget_target()
        check_values(parser, args)  # finite floats, a sane --max-model-len, a known --region: every step
        result: StepResult = module.run(args)
        _attach_target(result)
        emit(result, args.format)
    except SpcsLlmError as err:
        emit_error(err, args.format)
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as err:  # noqa: BLE001 - never a traceback: one line, exit 3 (--debug shows it)
        return _unexpected(err, step, args.format, debug)
    return result.exit_code


def _unexpected(err: Exception, step: str, fmt: str, debug: bool) -> int:
    """An OS error (a path that cannot be read or written) or a bug: one line and exit 3."""
    if debug:
        traceback.print_exc()
    if isinstance(err, OSError):
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        message = f"{step}: cannot use{where}: {err.strerror or err}"
        hint = "check the path exists and is writable (and is not a folder where a file is expected)"
    else:
        message = f"{step}: unexpected {type(err).__name__}: {err}"
        hint = f"this is a bug in spcs-llm; re-run with --debug (or {ENV_DEBUG}=1) and report the traceback"
    emit_error(SpcsLlmError(" ".join(message.split()), hint=None if debug else hint,
                            exit_code=EXIT_ENVIRONMENT), fmt)
    return EXIT_ENVIRONMENT


def _forget_target() -> None:
    access = sys.modules.get("spcs_llm.snowflake.access")
    if access is not None:
        access.LAST_TARGET_LINE = None


def _attach_target(result: StepResult) -> None:
    """The account a step acted on goes into its --json and summary (SqlRunner.announce sets it)."""
    access = sys.modules.get("spcs_llm.snowflake.access")
    line = getattr(access, "LAST_TARGET_LINE", None)
    if line and isinstance(result.data, dict):
        result.data.setdefault("acting_on", line)


def run_as_script(step: str) -> None:
    """Entry point of the thin scripts/<step>.py files."""
    sys.exit(main([step, *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())
