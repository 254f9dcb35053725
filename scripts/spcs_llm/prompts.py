"""Render the checkpoint templates in prompts/ (questions and summaries shown at STOPs)."""

from __future__ import annotations

from . import PACK_ROOT
from .errors import SpcsLlmError

PROMPTS_DIR = PACK_ROOT / "prompts"


def render_prompt(name: str, **context) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PROMPTS_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    try:
        return env.get_template(f"{name}.j2").render(**context)
    except jinja2.TemplateNotFound as err:
        raise SpcsLlmError(f"prompt template {name!r} not found in {PROMPTS_DIR}") from err
