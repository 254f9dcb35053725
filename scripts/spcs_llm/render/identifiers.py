"""Snowflake identifiers and literals: validated and written in this one place.

The pack only writes unquoted identifiers. Compute pools do not support quoted names at all
(CREATE COMPUTE POOL usage notes), and service names must also be valid DNS labels, so
accepting only the plain form keeps every object reachable by the names users type.
Reference: docs.snowflake.com/en/sql-reference/identifiers-syntax (unquoted: a letter or
underscore, then letters, digits, underscores or dollar signs; at most 255 characters).
"""

from __future__ import annotations

import re

from ..errors import SpcsLlmError

MAX_IDENTIFIER_LENGTH = 255
_UNQUOTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# Spec names (containers, endpoints, volumes): lowercase alphanumeric or '-', start with a
# letter, end alphanumeric, at most 63 characters (service specification reference).
_SPEC_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")


def identifier(name: object, what: str = "identifier") -> str:
    """Validate an unquoted Snowflake identifier and return it upper-cased (as Snowflake stores it)."""
    if not isinstance(name, str) or not name:
        raise SpcsLlmError(f"{what} must be a non-empty name, got {name!r}")
    if len(name) > MAX_IDENTIFIER_LENGTH or not _UNQUOTED.match(name):
        raise SpcsLlmError(
            f"{what} {name!r} is not a plain Snowflake identifier",
            hint="use letters, digits and underscores, starting with a letter or underscore "
            f"(at most {MAX_IDENTIFIER_LENGTH} characters); quoted names are not supported",
        )
    return name.upper()


def name_as_written(name: str) -> str:
    """A name Snowflake created for us (e.g. a SNOWFLAKE.MODELS model with '-' or '.'): plain names
    upper-cased, any other name double-quoted (embedded quotes doubled) so it is used verbatim."""
    if _UNQUOTED.match(name) and len(name) <= MAX_IDENTIFIER_LENGTH:
        return name.upper()
    return '"' + name.replace('"', '""') + '"'


def qualified_name(name: object, what: str = "object name", parts: tuple[int, ...] = (1, 2, 3)) -> str:
    """Validate NAME, SCHEMA.NAME or DB.SCHEMA.NAME (each part a plain identifier)."""
    if not isinstance(name, str) or not name:
        raise SpcsLlmError(f"{what} must be a non-empty name, got {name!r}")
    pieces = name.split(".")
    if len(pieces) not in parts:
        forms = " or ".join({1: "NAME", 2: "SCHEMA.NAME", 3: "DB.SCHEMA.NAME"}[p] for p in parts)
        raise SpcsLlmError(f"{what} {name!r} must have the form {forms}")
    return ".".join(identifier(p, what) for p in pieces)


def service_name(name: object) -> str:
    """A service name: a plain identifier that is also a DNS label once '_' becomes '-'."""
    ident = identifier(name, "service name")
    if "$" in ident or len(ident) > 63:
        raise SpcsLlmError(
            f"service name {name!r} cannot be used as a DNS label",
            hint="use at most 63 letters, digits and underscores",
        )
    return ident


def spec_name(name: object, what: str = "spec name") -> str:
    """A container, endpoint or volume name in a service specification."""
    if not isinstance(name, str) or not _SPEC_NAME.match(name):
        raise SpcsLlmError(
            f"{what} {name!r} is not valid in a service specification",
            hint="lowercase letters, digits and '-', starting with a letter, at most 63 characters",
        )
    return name


def string_literal(value: object) -> str:
    """A single-quoted SQL string literal with quotes and backslashes escaped."""
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
