"""Getting a token to the REST caller without it ever passing through the assistant.

The user runs the PAT statement themselves (Snowsight, or `snow sql` in their own terminal) and its
output goes straight into a mode-0600 file through `spcs-llm access save-token`; the assistant only
learns the file path (or the name of the variable an application reads it into). Key pairs keep
the private key in a file too; only the public key is set on the user.
Sources: docs.snowflake.com/en/sql-reference/sql/alter-user-add-programmatic-access-token (the
secret is in column token_secret of the statement's one output row, shown only once),
docs.snowflake.com/en/user-guide/key-pair-auth.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

from ..errors import SpcsLlmError
from ..redact import register_secret

SECRET_COLUMN = "token_secret"
MIN_DAYS, MAX_DAYS = 1, 365  # DAYS_TO_EXPIRY range (the account's PAT policy may lower the maximum)


def default_pat_file(service: str) -> str:
    """Beside connections.toml, which is already private to the user."""
    return f"~/.snowflake/spcs-llm-{service.lower()}.pat"


def snow_sql_line(statement: str, *, connection: str | None, pat_file: str) -> str:
    """The shell line the user runs: the statement's output piped into save-token (0600 file)."""
    conn = f" -c {shlex.quote(connection)}" if connection else ""
    # double quotes read best around SQL with '...' literals, when nothing inside is special to the shell
    query = f'"{statement}"' if not any(c in statement for c in '"$`\\!') else shlex.quote(statement)
    return (f"snow sql{conn} --format json -q {query} | "
            f"spcs-llm access save-token --pat-file {pat_file}")


def keypair_lines(user: str, key_dir: str = "~/.snowflake") -> dict[str, str]:
    """openssl commands of the key-pair guide: an unencrypted PKCS#8 private key and its public key."""
    stem = f"{key_dir}/spcs-llm-{user.lower()}"
    return {
        "private_key_file": f"{stem}.p8",
        "public_key_file": f"{stem}.pub",
        "commands": "\n".join([
            f"(umask 077 && openssl genrsa 2048 | openssl pkcs8 -topk8 -inform PEM -out {stem}.p8 -nocrypt)",
            f"openssl rsa -in {stem}.p8 -pubout -out {stem}.pub",
        ]),
    }


def public_key_body(path: str) -> str:
    """The base64 body of a PEM public key (what RSA_PUBLIC_KEY takes); refuses a private key."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as err:
        raise SpcsLlmError(f"--public-key-file {path!r} cannot be read: {type(err).__name__}") from None
    if "PRIVATE KEY" in text:
        register_secret(text)
        raise SpcsLlmError(f"--public-key-file {path!r} holds a PRIVATE key",
                           hint="pass the .pub file (openssl rsa -in KEY.p8 -pubout -out KEY.pub); never share the .p8")
    if "BEGIN PUBLIC KEY" not in text:
        raise SpcsLlmError(f"--public-key-file {path!r} is not a PEM public key (no BEGIN PUBLIC KEY line)")
    return "".join(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("-----"))


def extract_secret(text: str) -> str:
    """The token from `snow sql --format json` output (rows, or a list of row lists; any key case),
    or the bare token when the input is not JSON (pasted from Snowsight)."""
    stripped = text.strip()
    if not stripped:
        raise SpcsLlmError("no token on standard input",
                           hint="pipe the output of the ALTER USER ... ADD PROGRAMMATIC ACCESS TOKEN statement "
                           "(snow sql --format json) into save-token, or paste the token and press Enter")
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        data = None
    if data is None:
        if any(c.isspace() or c in "\"'" for c in stripped):
            raise SpcsLlmError("standard input is neither JSON nor a single token",
                               hint="pipe `snow sql --format json -q \"ALTER USER ...\"` into save-token, or paste "
                               "only the token")
        register_secret(stripped)
        return stripped
    found = _find(data)
    if not found:
        raise SpcsLlmError(f"the JSON on standard input has no {SECRET_COLUMN} column",
                           hint="was the statement ALTER USER ... ADD PROGRAMMATIC ACCESS TOKEN, and did it succeed? "
                           "(with IF NOT EXISTS and an existing token name no secret is returned)")
    register_secret(found)
    return found


def _find(node) -> str | None:
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key).lower() == SECRET_COLUMN and isinstance(value, str) and value.strip():
                register_secret(value.strip())
                return value.strip()
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            found = _find(item)
            if found:
                return found
    return None


def write_secret(path: str, secret: str) -> Path:
    """Write the token alone into PATH with mode 0600 (parent created 0700), replacing any old one."""
    file = Path(path).expanduser()
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (secret + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, file)
    return file


def read_stdin() -> str:
    """Piped input as is; on a terminal, one hidden line (the user pastes the token there)."""
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("paste the token (hidden), then Enter: ")
    return sys.stdin.read()
