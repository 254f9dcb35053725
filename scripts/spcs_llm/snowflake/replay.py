"""Recorded responses: run steps offline against what a real account answered.

With SPCS_LLM_REPLAY_DIR set, each statement is looked up in a JSON file of that directory,
named after the normalised statement (see file_name()). A file holds either a list of rows, or
a mapping with "rows" (and optionally "_source" citing the doc page of the columns, and
"statement" to guard against two statements sharing a file name), or a mapping with "error"
({"errno", "sqlstate", "message"}) to replay a failing statement.

With SPCS_LLM_RECORD_DIR set, a live run writes each response there in the same format, so a
user with an account can contribute fixtures (check them for private names before sharing).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EXIT_ENVIRONMENT, SpcsLlmError
from ..fileio import write_atomic
from ..redact import redact

ENV_REPLAY_DIR = "SPCS_LLM_REPLAY_DIR"
ENV_RECORD_DIR = "SPCS_LLM_RECORD_DIR"
_MAX_SLUG = 100


def normalise(sql: str) -> str:
    """One statement, compared the way recordings are: whitespace collapsed, no trailing ';'."""
    text = " ".join(sql.split())
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def file_name(sql: str) -> str:
    """The recording file name for a statement: a readable lower-case slug (hashed if long)."""
    text = normalise(sql)
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "empty"
    if len(slug) > _MAX_SLUG:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
        slug = f"{slug[:_MAX_SLUG - 11]}_{digest}"
    return slug + ".json"


@dataclass
class Recording:
    rows: list[dict] = field(default_factory=list)
    error: dict | None = None
    source: str | None = None
    path: Path | None = None


def replay_dir_from_env() -> Path | None:
    value = os.environ.get(ENV_REPLAY_DIR)
    return Path(value) if value else None


def load(directory: Path, sql: str) -> Recording:
    """The recorded response to a statement, or a clear error naming the file looked for."""
    path = Path(directory) / file_name(sql)
    if not path.is_file():
        raise SpcsLlmError(
            f"replay: no recorded response for statement {normalise(sql)!r}: looked for {path}",
            hint=f"record it (run live with {ENV_RECORD_DIR}=<dir>) or write the file by hand with the "
            f"documented columns; unset {ENV_REPLAY_DIR} to talk to Snowflake",
            exit_code=EXIT_ENVIRONMENT,
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SpcsLlmError(f"replay: {path} is not valid JSON: {err}", exit_code=EXIT_ENVIRONMENT) from err
    if isinstance(data, list):
        return Recording(rows=_rows(data, path), path=path)
    if not isinstance(data, dict):
        raise SpcsLlmError(f"replay: {path} must hold a list of rows or a mapping with 'rows'",
                           exit_code=EXIT_ENVIRONMENT)
    recorded = data.get("statement")
    if recorded is not None and normalise(recorded) != normalise(sql):
        raise SpcsLlmError(
            f"replay: {path} records {normalise(recorded)!r}, not {normalise(sql)!r} (same file name)",
            exit_code=EXIT_ENVIRONMENT,
        )
    error = data.get("error")
    if error is not None and not isinstance(error, dict):
        raise SpcsLlmError(f"replay: 'error' in {path} must be a mapping", exit_code=EXIT_ENVIRONMENT)
    return Recording(rows=_rows(data.get("rows", []), path), error=error, source=data.get("_source"), path=path)


def _rows(rows: object, path: Path) -> list[dict]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SpcsLlmError(f"replay: rows in {path} must be a list of mappings", exit_code=EXIT_ENVIRONMENT)
    return [{str(k).lower(): v for k, v in row.items()} for row in rows]


def record(directory: Path, sql: str, rows: list[dict] | None = None, *, source: str | None = None,
           error: dict | None = None) -> Path:
    """Write one response in the replay format (atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload: dict = {"_source": source, "statement": normalise(sql)}
    if error is not None:
        payload["error"] = error
    else:
        payload["rows"] = rows or []
    path = directory / file_name(sql)
    return write_atomic(path, redact(json.dumps(payload, indent=2, default=str)) + "\n")
