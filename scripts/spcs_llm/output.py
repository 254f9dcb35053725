"""How every step's result reaches the user: a table for people, JSON for tools, or the
checkpoint prompt an assistant shows. All output passes through redact()."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from .errors import SpcsLlmError
from .redact import redact


@dataclass
class StepResult:
    data: dict  # the --json payload; its keys are the step's documented schema
    text: str = ""  # the human rendering
    prompt: str | None = None  # name of the prompts/<name>.j2 template for --format prompt
    exit_code: int = 0
    prompt_context: dict = field(default_factory=dict)  # extra values for the prompt template


def emit(result: StepResult, fmt: str) -> None:
    if fmt == "json":
        out = json.dumps(result.data, indent=2, default=str)
    elif fmt == "prompt":
        if not result.prompt:
            raise SystemExit("this step has no checkpoint prompt; use --json or the default text")
        from .prompts import render_prompt

        out = render_prompt(result.prompt, **result.data, **result.prompt_context)
        if result.data.get("acting_on"):  # the account a summary is about comes first
            out = f"_{result.data['acting_on']}_\n\n{out}"
    else:
        out = result.text or json.dumps(result.data, indent=2, default=str)
    sys.stdout.write(redact(out).rstrip("\n") + "\n")


def emit_error(err: SpcsLlmError, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(redact(json.dumps(err.as_dict(), indent=2)) + "\n")
    sys.stderr.write(redact(f"error: {err}") + "\n")


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A plain-text table: columns are (key, header) pairs; None prints as '-'."""
    cells = [[header for _, header in columns]]
    for row in rows:
        cells.append(["-" if row.get(key) is None else str(row.get(key)) for key, _ in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
