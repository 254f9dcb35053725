"""Values written into rendered Python and SQL (never identifiers: those go through
render/identifiers.py)."""

from __future__ import annotations

from ..render.identifiers import string_literal


def py_literal(value: object) -> str:
    """A Python literal for plain data (str, int, float, bool, None, lists and dicts of those)."""
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    raise TypeError(f"internal: cannot write a {type(value).__name__} as a Python literal")


def sql_value(value: object) -> str:
    """A SQL literal the way snowflake-ml-python writes parameter values into a service-function
    call (model/_client/ops/param_utils.py format_param_value_for_sql), except that strings are
    escaped with the pack's string_literal (quotes and backslashes)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            parts += [string_literal(key), sql_value(item)]
        return f"OBJECT_CONSTRUCT_KEEP_NULL({', '.join(parts)})"
    if isinstance(value, list):
        return "[" + ", ".join(sql_value(v) for v in value) + "]"
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"internal: cannot write a {type(value).__name__} as a SQL literal")


def sql_constant(value: object) -> str:
    """A Snowflake object/array constant ({'k': v}, [..]) for literal messages in a query."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{string_literal(k)}: {sql_constant(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(sql_constant(v) for v in value) + "]"
    return sql_value(value)
