"""Commands shown in playbook code blocks, and how the tests run them.

Convention (written down in the router): every command in a ```bash block must exit 0 when the
playbook is followed from a fresh directory, unless its line ends with a comment that names
another code, `# exits N` (for example `# exits 1 when nothing fits`). Commands that need a live
account go in ```text blocks; those are not run, but each `spcs-llm` command in them must name a
real step and only flags that step accepts.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

_EXITS = re.compile(r"#\s*exits\s+(\d+)\b")
_REDIRECT = re.compile(r"^(\d?>>?|&>)(.*)$")  # > file, >> file, 2> file, &> file (or >file); not <placeholders>
_FAIL_MARK = "spcs-llm-playbook-check:"


@dataclass
class Command:
    line: int  # file line of the command's first physical line
    text: str  # the logical command (continuations joined)
    expected_exit: int


def logical_commands(text: str, first_line: int = 1) -> list[Command]:
    """Split a shell block into commands: join backslash continuations, skip blanks and comments."""
    out: list[Command] = []
    pending: list[str] = []
    start = first_line
    for offset, raw in enumerate(text.splitlines()):
        line = raw.rstrip()
        if not pending:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = first_line + offset
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(part.strip() for part in pending)
        match = _EXITS.search(pending[-1])
        out.append(Command(line=start, text=joined, expected_exit=int(match.group(1)) if match else 0))
        pending = []
    if pending:
        joined = " ".join(part.strip() for part in pending)
        out.append(Command(line=start, text=joined, expected_exit=0))
    return out


def _strip_comment(command: str) -> str:
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return " ".join(shlex.quote(t) for t in lexer)
    except ValueError:
        return command


def spcs_llm_calls(command: str) -> list[list[str]]:
    """Argument lists of every `spcs-llm ...` call in a shell command (pipes and && split)."""
    try:
        tokens = shlex.split(_strip_comment(command))
    except ValueError:
        return []
    calls, current = [], None
    redirect_target = False
    for token in tokens:
        if token in ("|", "||", "&&", ";"):
            current = None
            continue
        if redirect_target:  # the file after `>`: the shell's, not an argument of the step
            redirect_target = False
            continue
        if _REDIRECT.match(token):
            redirect_target = not _REDIRECT.match(token).group(2)  # `>file` carries its own target
            continue
        if token == "spcs-llm" or token.endswith("/spcs-llm"):
            current = []
            calls.append(current)
        elif current is not None:
            current.append(token)
    return calls


def check_call(args: list[str]) -> str | None:
    """Why `spcs-llm <args>` would be rejected by the CLI parser (None when it parses)."""
    from ..cli import STEPS, build_parser

    if not args:
        return "spcs-llm without a step"
    if args[0] in ("--help", "-h", "--version"):
        return None
    step = args[0]
    if step not in STEPS:
        return f"unknown step {step!r} (steps: {', '.join(STEPS)})"
    try:
        module = importlib.import_module(STEPS[step][0])
    except ImportError as err:
        return f"step {step!r} cannot be imported: {err}"
    parser = build_parser(step, module)
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(args[1:])
    except SystemExit as exc:
        if exc.code not in (0, None):
            lines = errors.getvalue().strip().splitlines()
            return f"spcs-llm {' '.join(args)}: {lines[-1] if lines else 'rejected by the parser'}"
    return None


def touches_account(args: list[str]) -> bool:
    """True when `spcs-llm <args>` would open a Snowflake connection: its step takes --connection,
    the call has neither --dry-run nor --help nor one of the step's OFFLINE_FLAGS (flags that make
    it read local evidence instead, such as a saved log file), and, for a step that connects only
    with some flags (its LIVE_FLAGS, e.g. deploy-registry --execute), one of those is given."""
    from ..cli import STEPS, build_parser

    if not args or args[0] not in STEPS:
        return False
    module = importlib.import_module(STEPS[args[0]][0])
    options = {opt for action in build_parser(args[0], module)._actions for opt in action.option_strings}
    if "--connection" not in options:
        return False
    given = {arg.split("=", 1)[0] for arg in args[1:]}
    if given & {"--dry-run", "--help", "-h", *getattr(module, "OFFLINE_FLAGS", ())}:
        return False
    live_flags = getattr(module, "LIVE_FLAGS", None)
    return live_flags is None or bool(given & set(live_flags))


@dataclass
class BlockRun:
    ok: bool
    failed: Command | None
    actual_exit: int | None
    output: str


def run_block(commands: list[Command], cwd: Path, env: dict[str, str], timeout: float = 120) -> BlockRun:
    """Run one block's commands in one bash process (so variables set in the block carry over),
    checking each command's exit code against its annotation; stop at the first mismatch."""
    script = ["set -o pipefail",
              '__check() { if [ "$1" != "$2" ]; then '
              f'echo "{_FAIL_MARK} $3 $1" >&2; exit 97; fi; }}']
    for index, command in enumerate(commands):
        script += [command.text, f"__check $? {command.expected_exit} {index}"]
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return BlockRun(ok=True, failed=None, actual_exit=0, output=output)
    match = re.search(rf"{_FAIL_MARK} (\d+) (\d+)", proc.stderr)
    if match:
        return BlockRun(ok=False, failed=commands[int(match.group(1))], actual_exit=int(match.group(2)),
                        output=output)
    return BlockRun(ok=False, failed=None, actual_exit=proc.returncode, output=output)
