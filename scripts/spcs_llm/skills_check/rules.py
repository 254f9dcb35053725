"""Per-playbook rules. Each returns readable problems ("path:line: what is wrong"); [] is clean."""

from __future__ import annotations

import re
from pathlib import Path

from .commands import check_call, logical_commands, spcs_llm_calls, touches_account
from .document import ROUTER, Playbook

ALLOWED_KEYS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
MAX_DESCRIPTION = 1023  # "under 1024 characters"
MAX_COMPATIBILITY = 500
MAX_LINES = 499  # "under 500 lines"

# The one checkpoint form. The ask part is an instruction, so it ends before the fixed tail.
STOP_FORM = "**STOP**: <what to ask or confirm>. End your turn and wait for the user's answer."
STOP_RE = re.compile(r"^\*\*STOP\*\*: (?P<ask>[^*\n]*[^.?!:\s*])\. End your turn and wait for the user's answer\.$")
_STOP_WORD = re.compile(r"\bSTOP\b")
_LOOSE_WAIT = re.compile(r"(?i)\bwait for (the )?user|\bstopping point\b")
_ASK = re.compile(r"^\s*(?:[-*]\s+|\d+\.\s+)?(?:\*\*)?Ask\b")
_DONE = re.compile(r"^\s*(?:[-*]\s+)?\*\*Done\*\*")
_RUNNABLE = ("bash", "sh", "shell", "console")


def is_stop(line: str) -> bool:
    return bool(STOP_RE.match(line.strip()))


def _where(pb: Playbook, line: int) -> str:
    return f"{pb.path}:{line}"


def check_frontmatter(pb: Playbook) -> list[str]:
    problems = []
    fm = pb.frontmatter
    if not fm:
        return [f"{pb.path}: no YAML frontmatter (--- name/description ---) at the top"]
    problems += [f"{pb.path}: frontmatter key {k!r} is not allowed; allowed: {', '.join(sorted(ALLOWED_KEYS))}"
                 " (put custom keys under metadata)" for k in sorted(set(fm) - ALLOWED_KEYS)]
    if fm.get("name") != pb.folder:
        problems.append(f"{pb.path}: name {fm.get('name')!r} must equal the folder name {pb.folder!r}")
    description = fm.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append(f"{pb.path}: description is missing")
    else:
        if len(description) > MAX_DESCRIPTION:
            problems.append(f"{pb.path}: description has {len(description)} characters; the limit is under 1024")
        if "<" in description or ">" in description:
            problems.append(f"{pb.path}: description must not contain '<' or '>'")
        if pb.is_router and not ("Use when" in description and "Triggers:" in description):
            problems.append(f"{pb.path}: the entry skill's description must say 'Use when' and list 'Triggers:'")
    compatibility = fm.get("compatibility")
    if compatibility is not None and (not isinstance(compatibility, str) or len(compatibility) > MAX_COMPATIBILITY):
        problems.append(f"{pb.path}: compatibility must be text of at most {MAX_COMPATIBILITY} characters")
    metadata = fm.get("metadata")
    if metadata is not None and not (isinstance(metadata, dict)
                                     and all(isinstance(v, str) for v in metadata.values())):
        problems.append(f"{pb.path}: metadata must map names to strings")
    parent = metadata.get("parent_skill") if isinstance(metadata, dict) else None
    if pb.is_router and parent:
        problems.append(f"{pb.path}: the router has no parent_skill")
    if not pb.is_router and parent != ROUTER:
        problems.append(f"{pb.path}: a sub-playbook needs metadata: parent_skill: {ROUTER} (got {parent!r})")
    return problems


def check_length(pb: Playbook) -> list[str]:
    if len(pb.lines) > MAX_LINES:
        return [f"{pb.path}: {len(pb.lines)} lines; keep a playbook under 500 lines (split it)"]
    return []


def check_stop_lines(pb: Playbook) -> list[str]:
    problems = []
    for number, text in pb.prose():
        plain = re.sub(r"`[^`]*`", "", text)  # the form may be quoted in a code span
        if _STOP_WORD.search(plain) and not is_stop(text):
            problems.append(f"{_where(pb, number)}: a checkpoint must be exactly one line: {STOP_FORM}")
        elif _LOOSE_WAIT.search(plain) and not is_stop(text):
            problems.append(f"{_where(pb, number)}: write checkpoints only in the STOP form: {STOP_FORM}")
    for block in pb.blocks:
        if _STOP_WORD.search(block.text):
            problems.append(f"{_where(pb, block.line)}: a STOP inside a code block is not a checkpoint; "
                            "put it on its own line after the block")
    return problems


def _section_asks(section) -> list[int]:
    """Lines where a section asks the user something: an Ask instruction, or a command in a code
    block that renders a checkpoint prompt (--format prompt)."""
    asks = [n for n, text in section.lines if _ASK.match(text)]
    for block in section.blocks:
        for command in logical_commands(block.text, block.line + 1):
            if re.search(r"--format[= ]prompt\b", command.text):
                asks.append(command.line)
    return sorted(asks)


def check_question_steps(pb: Playbook) -> list[str]:
    """Every section that asks something ends the turn with a STOP after its last question."""
    problems = []
    for section in pb.sections:
        asks = _section_asks(section)
        if not asks:
            continue
        stops = [n for n, text in section.lines if is_stop(text)]
        if not any(n > asks[-1] for n in stops):
            problems.append(f"{_where(pb, asks[-1])}: section {section.title!r} asks the user something but has "
                            f"no STOP line after it ({STOP_FORM})")
    return problems


def check_costly_chain(pb: Playbook) -> list[str]:
    """A command with --yes (costs credits or changes something) needs a STOP since the last one."""
    problems = []
    stop_seen = False
    for _, kind, item in pb.events():
        if kind == "prose":
            stop_seen = stop_seen or is_stop(item)
            continue
        for command in logical_commands(item.text, item.line + 1):
            for call in spcs_llm_calls(command.text):
                if "--yes" not in call:
                    continue
                if item.lang in _RUNNABLE and "--dry-run" not in call:
                    problems.append(f"{_where(pb, command.line)}: --yes in a bash block would change an account "
                                    "when the tests run it; put live commands in a ```text block")
                if not stop_seen:
                    problems.append(f"{_where(pb, command.line)}: costly command without a STOP checkpoint "
                                    "before it (summary, 'Proceed?', STOP, then --yes)")
                stop_seen = False
    return problems


def check_bash_is_offline(pb: Playbook) -> list[str]:
    """The router promises that bash blocks are safe to run as shown (offline or --dry-run): a step
    that would log in to Snowflake belongs in a ```text block, or gets --dry-run."""
    problems = []
    for block in pb.blocks:
        if block.lang not in _RUNNABLE:
            continue
        for command in logical_commands(block.text, block.line + 1):
            for call in spcs_llm_calls(command.text):
                if touches_account(call):
                    problems.append(f"{_where(pb, command.line)}: `spcs-llm {' '.join(call)}` connects to Snowflake "
                                    "but sits in a bash block (promised offline): add --dry-run or move it to a "
                                    "```text block")
    return problems


def check_commands_parse(pb: Playbook) -> list[str]:
    """Every spcs-llm call in any code block names a real step with flags that step accepts."""
    problems = []
    for block in pb.blocks:
        if not block.closed:
            problems.append(f"{_where(pb, block.line)}: code block is never closed")
            continue
        if block.lang not in (*_RUNNABLE, "text", ""):
            continue
        for command in logical_commands(block.text, block.line + 1):
            for call in spcs_llm_calls(command.text):
                problem = check_call(call)
                if problem:
                    problems.append(f"{_where(pb, command.line)}: {problem}")
    return problems


def check_links(pb: Playbook) -> list[str]:
    problems = []
    for number, target in [*pb.loads(), *pb.links()]:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = (pb.path.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            problems.append(f"{_where(pb, number)}: {target!r} does not exist (resolved to {path})")
    return problems


def check_ending(pb: Playbook) -> list[str]:
    """A sub-playbook ends with a hand-off (Load ...) or **Done** in its last section."""
    if pb.is_router:
        return []
    last = next((s for s in reversed(pb.sections) if any(t.strip() for _, t in s.lines) or s.blocks), None)
    if last is None:
        return [f"{pb.path}: empty playbook"]
    texts = [t for _, t in last.lines]
    if any("Load `" in t for t in texts) or any(_DONE.match(t) for t in texts):
        return []
    return [f"{pb.path}:{last.line}: the last section ({last.title!r}) must end the path: "
            "a hand-off (Load `../<other>/SKILL.md`) or **Done**"]


RULES = (check_frontmatter, check_length, check_stop_lines, check_question_steps, check_costly_chain,
         check_bash_is_offline, check_commands_parse, check_links, check_ending)


def check_playbook(pb: Playbook) -> list[str]:
    return [problem for rule in RULES for problem in rule(pb)]


def official_validation(folder: Path) -> list[str]:
    """The Agent Skills reference validator (skills-ref), as `agentskills validate` runs it."""
    from skills_ref.validator import validate

    return [f"{folder}: {problem}" for problem in validate(folder)]


def check_tree(root: Path) -> list[str]:
    """Every rule on every playbook under root, the official validator, and the Load graph."""
    from .document import load_tree
    from .graph import check_graph

    tree = load_tree(root)
    problems = []
    for pb in tree.values():
        problems += check_playbook(pb)
        problems += official_validation(pb.path.parent)
    return problems + check_graph(root, tree)
