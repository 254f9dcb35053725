"""The token a REST caller sends to the SPCS ingress, read from an env var or a file, never from argv.

The ingress wants `Authorization: Snowflake Token="<token>"` (spcs_facts.md §7.2); the token is a
programmatic access token (PAT) or a key-pair JWT exchanged at the account's /oauth/token
(rest/keypair.py). Every token is registered with redact() the moment it is read, so no output,
log or error message can carry it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ..errors import SpcsLlmError
from ..redact import register_secret

DEFAULT_PAT_ENV = "SNOWFLAKE_PAT"  # the same default as `usage` and `status`
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def add_token_arguments(where, keypair_where=None) -> None:
    """The token flags `endpoint` and `gateway` share: one of --pat-env, --pat-file or
    --private-key-file, and for a key pair its passphrase variable and account (in keypair_where,
    a separate help group, when given)."""
    source = where.add_mutually_exclusive_group()
    source.add_argument("--pat-env", metavar="VAR", help="env var holding the PAT (default: the plan's "
                        f"rest.pat_file if it exists, else rest.pat_env, else {DEFAULT_PAT_ENV})")
    source.add_argument("--pat-file", metavar="PATH", help="file holding the PAT (mode 0600)")
    source.add_argument("--private-key-file", metavar="PATH",
                        help="use a key-pair token instead of a PAT: the user's PEM private key (default: the "
                             "plan's rest.private_key_file when `access` recorded the key-pair method)")
    keypair = keypair_where or where
    keypair.add_argument("--private-key-passphrase-env", metavar="VAR", help="env var holding the key's passphrase")
    keypair.add_argument("--account", help="with a key pair: account identifier ORG-ACCOUNT (default: the plan's "
                         "snowflake.account)")


def snowflake_header(token: str) -> dict[str, str]:
    """The header the ingress reads (Tutorial 8, "Deploy models for real-time inference")."""
    return {"Authorization": f'Snowflake Token="{token}"'}


def source_from_plan(pat_env: str | None, pat_file: str | None, plan: dict | None) -> tuple[str | None, str | None]:
    """--pat-env/--pat-file if given, else where `spcs-llm access` recorded the token: its file
    (rest.pat_file) when that exists, else its variable (rest.pat_env), else $SNOWFLAKE_PAT."""
    if pat_env or pat_file:
        return pat_env, pat_file
    from .. import plan_file

    recorded_file = plan_file.get(plan or {}, "rest.pat_file")
    if recorded_file and Path(recorded_file).expanduser().is_file():
        return None, recorded_file
    return plan_file.get(plan or {}, "rest.pat_env"), None


def read_token(pat_env: str | None, pat_file: str | None, *, what: str = "PAT") -> str:
    """The token from --pat-file, else from the env var --pat-env (default $SNOWFLAKE_PAT).
    Missing or empty: an error naming where it looked (exit 2), never the value."""
    if pat_env and pat_file:
        raise SpcsLlmError("--pat-env and --pat-file cannot be combined", hint=f"the {what} comes from one place")
    if pat_file:
        token = _from_file(pat_file, what)
    else:
        name = pat_env or DEFAULT_PAT_ENV
        if not _ENV_NAME.match(name):
            raise SpcsLlmError(f"--pat-env {name!r} is not an environment variable name",
                               hint="letters, digits and _, not starting with a digit (e.g. SNOWFLAKE_PAT)")
        token = os.environ.get(name, "").strip()
        if not token:
            raise SpcsLlmError(f"${name} is not set (or empty)", hint=(
                f"export the {what} into {name} in your own shell (never paste it into the chat), or pass "
                "--pat-file PATH to a file with mode 0600; skills/spcs-llm/rest-access/SKILL.md shows how to "
                "create one"))
    if any(c in token for c in '"\r\n'):
        raise SpcsLlmError(f"the {what} read from {_where(pat_env, pat_file)} contains a quote or a line break",
                           hint="the file or variable must hold the token alone")
    register_secret(token)
    return token


def _from_file(path: str, what: str) -> str:
    file = Path(path).expanduser()
    if not file.is_file():
        raise SpcsLlmError(f"--pat-file {path!r} does not exist or is not a file")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SpcsLlmError(f"--pat-file {path!r} cannot be read: {type(err).__name__}") from None
    token = text.strip()
    register_secret(token)  # before any message that might echo the file
    if not token:
        raise SpcsLlmError(f"--pat-file {path!r} is empty", hint=f"write the {what} into it (mode 0600)")
    return token


def loose_permissions(path: str | None) -> str | None:
    """A warning when a token file is readable by group or others (it should be 0600)."""
    if not path:
        return None
    try:
        mode = Path(path).expanduser().stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} is readable by other users (mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
    return None


def _where(pat_env: str | None, pat_file: str | None) -> str:
    return f"--pat-file {pat_file}" if pat_file else f"${pat_env or DEFAULT_PAT_ENV}"
