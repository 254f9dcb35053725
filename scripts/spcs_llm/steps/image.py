"""Build the custom vLLM image, or push it to the account's image repository. `build` prints or
runs docker build --platform linux/amd64 with model_image/Dockerfile from the pack root (a local
build; --base-registry and --pip-index-url select mirrors, e.g. in China). `push` reads
repository_url with SHOW IMAGE REPOSITORIES, then runs snow spcs image-registry login (the
connection's session token: works with SSO/MFA, no PAT), docker tag and docker push; it writes to
the account, so it needs --yes. --dry-run prints the commands and runs nothing (a recorded
response in SPCS_LLM_REPLAY_DIR fills in the repository URL). Image name and tag come from the
plan (custom_image.*, recorded by render-custom). Exit codes: 0 ok, 2 bad input or --yes missing,
3 docker or snow missing or failing, or a Snowflake error."""

from __future__ import annotations

import datetime as _dt
import shlex
import shutil
import subprocess
import sys

from .. import plan_file
from ..custom_image import docker, settings
from ..errors import EXIT_ENVIRONMENT, EXIT_USAGE, SpcsLlmError
from ..output import StepResult

ACTIONS = ("build", "push")
INSTALL_HINTS = {
    "docker": "install Docker (Docker Desktop, or docker-ce with BuildKit) and make sure `docker` is on PATH",
    "snow": "install the Snowflake CLI (pip install snowflake-cli) and configure the same connection",
}


def add_arguments(parser) -> None:
    from ..snowflake.args import add_snowflake_arguments

    parser.add_argument("action", choices=ACTIONS, help="build the image locally, or push it to Snowflake")
    parser.add_argument("--base-registry", default=docker.DEFAULT_BASE_REGISTRY, metavar="HOST",
                        help="registry serving the vLLM base image (default docker.io; in China e.g. "
                        "docker.m.daocloud.io)")
    parser.add_argument("--pip-index-url", metavar="URL", help="PyPI mirror for extra packages (build argument)")
    add_snowflake_arguments(parser, writes=True)


def _require_tools(*names: str) -> None:
    for name in names:
        if shutil.which(name) is None:
            raise SpcsLlmError(f"{name} is not on PATH", hint=INSTALL_HINTS[name], exit_code=EXIT_ENVIRONMENT)


def _run(argv: list[str]) -> None:
    """Run one command; its output goes to stderr so that stdout stays the step's result."""
    sys.stderr.write(f"$ {shlex.join(argv)}\n")
    sys.stderr.flush()
    try:
        code = subprocess.run(argv, stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno()).returncode
    except (OSError, ValueError):
        code = subprocess.run(argv).returncode
    if code != 0:
        raise SpcsLlmError(f"`{shlex.join(argv[:4])}` failed with exit code {code}",
                           hint="see its output above", exit_code=EXIT_ENVIRONMENT)


def run(args) -> StepResult:
    plan = plan_file.load(args.plan)
    d = settings.resolve(plan)
    if args.action == "build":
        return _build(args, d, settings.is_china(plan))
    return _push(args, d, plan)


def _build(args, d: settings.CustomImage, china: bool = False) -> StepResult:
    argv = docker.build_argv(d, base_registry=args.base_registry, pip_index_url=args.pip_index_url)
    notes = []
    if china and args.base_registry == docker.DEFAULT_BASE_REGISTRY:
        # the plan knows the account is in China, where a build machine usually cannot reach Docker Hub
        # (walk china1: the dry run showed BASE_REGISTRY=docker.io without a word)
        notes.append("the plan's account is in a China region: from mainland China Docker Hub (docker.io) is "
                     "usually unreachable; build through a registry mirror, e.g. spcs-llm image build "
                     "--base-registry docker.m.daocloud.io --pip-index-url https://pypi.tuna.tsinghua.edu.cn/simple")
    data = {"action": "build", "local_image": docker.local_image(d), "base_image": d.vllm_base_image,
            "base_registry": args.base_registry, "commands": [shlex.join(argv)], "dry_run": args.dry_run,
            "ran": False, "missing_tools": [t for t in ("docker",) if shutil.which(t) is None], "notes": notes}
    if not args.dry_run:
        _require_tools("docker")
        for note in notes:  # before a pull that may stall, not after it
            sys.stderr.write(f"note: {note}\n")
        _run(argv)
        data["ran"] = True
    return StepResult(data=data, text=_text(data), prompt="image_push_summary")


def _push(args, d: settings.CustomImage, plan: dict) -> StepResult:
    from ..snowflake.access import SqlRunner

    if not args.dry_run and not args.yes:
        raise SpcsLlmError(f"pushing {docker.local_image(d)} writes to your account's image repository and needs --yes",
                           hint="re-run with --yes, or with --dry-run to print the commands", exit_code=EXIT_USAGE)
    if not args.dry_run:
        _require_tools("docker", "snow")
    sql = docker.show_repository_sql(d)
    with SqlRunner.from_args(args) as runner:
        rows = [r for r in runner.query(sql, doc="show-image-repositories")
                if str(r.get("name", "")).upper() == d.image_repository]
        mode = runner.mode
        # snow logs Docker in: the same connection the query used, never snow's own default
        connection = runner.acting_on()["connection"] if runner.connection_name or mode == "live" else None
    url = rows[0].get("repository_url") if rows else None
    if not url and not args.dry_run:
        raise SpcsLlmError(f"image repository {d.database}.{d.schema}.{d.image_repository} was not found",
                           hint="create it first: spcs-llm render-custom --part setup --execute --yes",
                           exit_code=EXIT_ENVIRONMENT)
    argvs = docker.push_argvs(d, url, connection)
    commands = [shlex.join(a) for a in argvs]
    data = {"action": "push", "local_image": docker.local_image(d), "repository_url": url,
            "remote_image": docker.remote_image(url, d) if url else None, "spec_image": d.image_path,
            "statement": sql, "mode": mode, "commands": commands, "dry_run": args.dry_run, "ran": False,
            "missing_tools": [t for t in ("docker", "snow") if shutil.which(t) is None]}
    if not args.dry_run:
        for argv in argvs:
            _run(argv)
        data["ran"] = True
        plan_file.update(plan, "image", {
            "custom_image.repository_url": url, "custom_image.image_url": d.image_path,
            "custom_image.image_pushed_at": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()})
        plan_file.save(plan, args.plan)
    return StepResult(data=data, text=_text(data), prompt="image_push_summary")


def _text(data: dict) -> str:
    verb = "ran" if data["ran"] else "would run (dry run)"
    lines = [f"image {data['action']}: {data['local_image']}", f"{verb}:"]
    lines += [f"  {command}" for command in data["commands"]]
    if data["action"] == "push":
        lines.insert(1, f"repository: {data['repository_url'] or 'unknown until SHOW IMAGE REPOSITORIES runs'}")
        lines.append(f"the service spec uses {data['spec_image']}")
    lines += [f"note: {note}" for note in data.get("notes", ())]
    if data["missing_tools"]:
        lines.append(f"note: not on PATH here: {', '.join(data['missing_tools'])} (needed to run these commands)")
    return "\n".join(lines)
