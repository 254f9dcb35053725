"""Install the spcs-llm skill tree where an AI assistant looks for skills (offline).

Copies skills/spcs-llm/ (the router and every sub-playbook folder under it) into the assistant's
skills directory and writes a manifest, spcs-llm-install.json, beside the router. Re-running
updates the copy in place; --uninstall removes exactly the files the manifest lists; --dry-run
prints the actions without touching anything.

It copies rather than links: some assistants skip symbolic links when they scan for skills, and
a project-scope install is often committed, where a link into one person's checkout would break
for everyone else. The manifest also records the pack's location and the command that runs the
steps, for an assistant whose PATH lacks `spcs-llm`.

Where each assistant looks (user scope, the default, under your home: every project sees it;
project scope under the current directory, which must be your project, not this pack's
checkout): claude ~/.claude/skills or .claude/skills (Cortex Code reads these too); cortex
~/.snowflake/cortex/skills or .cortex/skills; codex ~/.agents/skills or .agents/skills; cursor
~/.cursor/skills or .cursor/skills.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from .. import PACK_ROOT, __version__
from ..errors import SpcsLlmError, one_of
from ..fileio import write_atomic
from ..output import StepResult, table

SKILL_NAME = "spcs-llm"
MANIFEST = "spcs-llm-install.json"
SOURCE_DIR = PACK_ROOT / "skills" / SKILL_NAME

# agent -> scope -> skills directory. Sources: Claude Code docs (.claude/skills, one level deep);
# Cortex Code CLI extensibility docs (docs.snowflake.com/en/user-guide/cortex-code/extensibility:
# .cortex/skills or .claude/skills per project, ~/.snowflake/cortex/skills per user); Codex docs
# (developers.openai.com/codex/skills: .agents/skills per repo, $HOME/.agents/skills per user);
# Cursor docs (cursor.com/docs/context/skills: .cursor/skills, ~/.cursor/skills).
AGENT_DIRS: dict[str, dict[str, str]] = {
    "claude": {"project": ".claude/skills", "user": "~/.claude/skills"},
    "cortex": {"project": ".cortex/skills", "user": "~/.snowflake/cortex/skills"},
    "codex": {"project": ".agents/skills", "user": "~/.agents/skills"},
    "cursor": {"project": ".cursor/skills", "user": "~/.cursor/skills"},
}
RESTART_HINT = {
    "claude": "Start a new Claude Code session; the skill is listed as spcs-llm (invoke it with /spcs-llm).",
    "cortex": "Start a new Cortex Code session; check it with /skill list, invoke it with $spcs-llm.",
    "codex": "Restart Codex; the skill appears under /skills, invoke it with $spcs-llm.",
    "cursor": "Restart Cursor; the skill is discovered at startup, invoke it with /spcs-llm in Agent chat.",
}
_SKIP_NAMES = {"__pycache__", ".DS_Store"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", required=True, choices=sorted(AGENT_DIRS),
                        help="the assistant to install for")
    parser.add_argument("--scope", choices=["project", "user"], default="user",
                        help="user (default): under your home, seen from every project; project: under the "
                             "current directory (run it from your project, not from the pack checkout)")
    parser.add_argument("--target", metavar="DIR",
                        help="install into DIR/spcs-llm instead of the agent's skills directory")
    parser.add_argument("--uninstall", action="store_true",
                        help="remove the files a previous install wrote (listed in its manifest)")
    parser.add_argument("--dry-run", action="store_true", help="print the actions; change nothing")


def skills_dir(agent: str, scope: str, target: str | None = None, cwd: Path | None = None) -> Path:
    """The directory that holds skill folders for this agent and scope."""
    one_of(agent, AGENT_DIRS, "agent")
    one_of(scope, ("project", "user"), "scope")
    if target:
        return Path(target).expanduser().resolve()
    relative = AGENT_DIRS[agent][scope]
    if scope == "user":
        return Path(os.path.expanduser(relative)).resolve()
    project = (cwd or Path.cwd()).resolve()
    if _inside(PACK_ROOT.resolve(), project):
        # A newcomer following the README runs this from the pack checkout, where their
        # assistant never looks: the install would be invisible.
        raise SpcsLlmError(
            f"--scope project installs under the current directory, {project}, which is the spcs-llm "
            "checkout itself, not your project",
            hint="run it from your project's directory, or use --scope user (seen from every project)")
    return (project / relative).resolve()


def source_files(source: Path = SOURCE_DIR) -> dict[str, bytes]:
    """Relative path -> content of every file of the skill tree (no caches, no hidden files)."""
    if not (source / "SKILL.md").is_file():
        raise SpcsLlmError(f"the skill tree is missing: {source / 'SKILL.md'} does not exist",
                           hint="run install-skills from a complete spcs-llm checkout", exit_code=3)
    files = {}
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_dir() or any(part in _SKIP_NAMES or part.startswith(".") for part in rel.parts):
            continue
        if path.suffix == ".pyc" or rel.as_posix() == MANIFEST:
            continue
        files[rel.as_posix()] = path.read_bytes()
    return files


def step_command() -> dict:
    """How an assistant runs the steps from this Python: the console script if it exists beside
    the interpreter, else the thin per-step scripts of the checkout."""
    console = Path(sys.executable).parent / "spcs-llm"
    on_path = shutil.which("spcs-llm")
    return {
        "on_path": on_path is not None,
        "path_command": on_path,
        "absolute_command": str(console) if console.exists() else None,
        "script_pattern": f"{sys.executable} {PACK_ROOT / 'scripts'}/<step_with_underscores>.py",
        "pack_root": str(PACK_ROOT),
    }


def _fix_hint(command: dict) -> str | None:
    if command["on_path"]:
        return None
    if command["absolute_command"]:
        return f'export PATH="{Path(command["absolute_command"]).parent}:$PATH"'
    return f"python -m pip install -e {command['pack_root']}"


def _read_manifest(dest: Path) -> dict | None:
    path = dest / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SpcsLlmError(f"{path} is not a readable install manifest: {err}",
                           hint=f"remove {dest} by hand, then install again") from err
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise SpcsLlmError(f"{path} is not an spcs-llm install manifest (no 'files' list)",
                           hint=f"remove {dest} by hand, then install again")
    return data


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan_install(dest: Path, files: dict[str, bytes]) -> list[dict]:
    """The actions an install would take: create, update, unchanged, remove (stale files)."""
    manifest = _read_manifest(dest)
    if dest.exists() and manifest is None:
        if not dest.is_dir() or any(dest.iterdir()):
            raise SpcsLlmError(f"{dest} exists and was not installed by spcs-llm (no {MANIFEST})",
                               hint="move it away, or install elsewhere with --target DIR")
    actions = []
    for rel, data in files.items():
        path = dest / rel
        if not path.exists():
            actions.append({"action": "create", "path": str(path)})
        elif path.is_file() and _digest(path.read_bytes()) == _digest(data):
            actions.append({"action": "unchanged", "path": str(path)})
        else:
            actions.append({"action": "update", "path": str(path)})
    previous = set(manifest["files"]) if manifest else set()
    for rel in sorted(previous - set(files)):
        if (dest / rel).exists():
            actions.append({"action": "remove", "path": str(dest / rel)})
    return actions


def plan_uninstall(dest: Path) -> list[dict]:
    manifest = _read_manifest(dest)
    if manifest is None:
        if (dest / "SKILL.md").exists():
            raise SpcsLlmError(f"{dest} was not installed by spcs-llm (no {MANIFEST}); leaving it alone",
                               hint="remove it by hand if it is yours to remove")
        return []
    actions = [{"action": "remove", "path": str(dest / rel)} for rel in manifest["files"]
               if _inside(dest, dest / rel) and (dest / rel).exists()]
    actions.append({"action": "remove", "path": str(dest / MANIFEST)})
    return actions


def _inside(root: Path, path: Path) -> bool:
    """A manifest is data read from disk: never follow it outside the install folder."""
    return path.resolve().is_relative_to(root.resolve())




def _remove_empty_dirs(dest: Path) -> None:
    if not dest.is_dir():
        return
    for path in sorted((p for p in dest.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(path.iterdir()):
            path.rmdir()
    if not any(dest.iterdir()):
        dest.rmdir()


def apply(dest: Path, actions: list[dict], files: dict[str, bytes], manifest: dict | None) -> None:
    for item in actions:
        path = Path(item["path"])
        if item["action"] in ("create", "update"):
            write_atomic(path, files[path.relative_to(dest).as_posix()])
        elif item["action"] == "remove" and path.is_file() and _inside(dest, path):
            path.unlink()
    if manifest is not None:
        write_atomic(dest / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    _remove_empty_dirs(dest)


def run(args: argparse.Namespace) -> StepResult:
    base = skills_dir(args.agent, args.scope, args.target)
    dest = base / SKILL_NAME
    command = step_command()
    if args.uninstall:
        actions = plan_uninstall(dest)
        manifest = None
        files: dict[str, bytes] = {}
    else:
        files = source_files()
        actions = plan_install(dest, files)
        manifest = {
            "installed_by": "spcs-llm install-skills",
            "version": __version__,
            "agent": args.agent,
            "scope": "target" if args.target else args.scope,
            "source": str(SOURCE_DIR),
            "pack_root": command["pack_root"],
            "command": command["path_command"] or command["absolute_command"],
            "script_pattern": command["script_pattern"],
            "files": sorted(files),
        }
    if not args.dry_run and (actions or manifest is not None):
        apply(dest, actions, files, manifest)
    counts = {kind: sum(1 for a in actions if a["action"] == kind)
              for kind in ("create", "update", "unchanged", "remove")}
    data = {
        "agent": args.agent,
        "scope": "target" if args.target else args.scope,
        "skills_dir": str(base),
        "destination": str(dest),
        "uninstall": args.uninstall,
        "dry_run": args.dry_run,
        "actions": actions,
        "counts": counts,
        "manifest": str(dest / MANIFEST),
        "command": command,
        "fix": _fix_hint(command),
        "next": None if args.uninstall else RESTART_HINT[args.agent],
    }
    return StepResult(data=data, text=_text(data))


def _text(data: dict) -> str:
    verb = "would" if data["dry_run"] else "did"
    what = "uninstall" if data["uninstall"] else "install"
    lines = [f"{what} spcs-llm skills for {data['agent']} ({data['scope']}): {data['destination']}"]
    changed = [a for a in data["actions"] if a["action"] != "unchanged"]
    if changed:
        lines += ["", table(changed, [("action", "action"), ("path", "path")])]
    counts = ", ".join(f"{n} {kind}" for kind, n in data["counts"].items() if n)
    lines += ["", f"{verb}: {counts or 'nothing (not installed)'}"]
    if not data["uninstall"]:
        if data["fix"]:
            lines += ["", "spcs-llm is not on PATH, so an assistant cannot run the steps yet. Fix it with:",
                      f"  {data['fix']}",
                      f"(or run steps as: {data['command']['script_pattern']})"]
        lines += ["", data["next"]]
    return "\n".join(lines)
