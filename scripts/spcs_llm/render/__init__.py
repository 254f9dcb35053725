"""Render the pack's artifacts (SQL, service specs, Python scripts) from jinja2 templates.

Templates live in render/templates/. Identifiers reach SQL only through the filters below,
so every name is validated and written the same way.
"""

from __future__ import annotations

from pathlib import Path

from .identifiers import identifier, qualified_name, service_name, spec_name, string_literal

TEMPLATES_DIR = Path(__file__).parent / "templates"


def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(
        ident=identifier,
        qname=qualified_name,
        service=service_name,
        spec_name=spec_name,
        sql_str=string_literal,
    )
    return env


def render(template: str, **context) -> str:
    """Render render/templates/<template> with StrictUndefined (a missing value is an error)."""
    return environment().get_template(template).render(**context)
