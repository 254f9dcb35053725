"""Which Snowflake connection to use, resolved the way snowflake-connector-python resolves it.

Reproduced from snowflake-connector-python 4.8.1 (config_manager.py, sf_dirs.py, constants.py)
without importing it, so that a missing or unsafe file gets a clear error before any login:

- Directory: $SNOWFLAKE_HOME (default ~/.snowflake/) if that directory exists; otherwise the
  platformdirs user config directory of "snowflake" (Linux ~/.config/snowflake, macOS
  ~/Library/Application Support/snowflake).
- Files: config.toml (may hold default_connection_name and a [connections] table) and
  connections.toml (one table per connection). When connections.toml exists its tables REPLACE
  the [connections] table of config.toml (the connector reads it as a slice over that section).
- The env var SNOWFLAKE_CONNECTIONS (a TOML string) replaces the connections of both files.
- Permissions (not on Windows): a file writable by group or others is refused; one readable by
  group or others, or owned by another user, gives the connector's warning unless
  SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION=true.

Connection name precedence (first that is set wins):
  1. --connection NAME
  2. the plan's recorded snowflake.connection (chosen by SqlRunner.from_args, see access.py)
  3. SNOWFLAKE_DEFAULT_CONNECTION_NAME (the connector's own variable)
  4. SNOWFLAKE_CONNECTION_NAME (the Snowflake CLI / skills convention; the connector ignores it)
  5. default_connection_name in config.toml
  6. "default"
"""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EXIT_ENVIRONMENT, SpcsLlmError
from ..redact import register_secret

CONNECTIONS_FILE_NAME = "connections.toml"
CONFIG_FILE_NAME = "config.toml"
DEFAULT_CONNECTION_NAME = "default"

ENV_HOME = "SNOWFLAKE_HOME"
ENV_CONNECTIONS = "SNOWFLAKE_CONNECTIONS"
ENV_DEFAULT_NAME = "SNOWFLAKE_DEFAULT_CONNECTION_NAME"
ENV_CLI_NAME = "SNOWFLAKE_CONNECTION_NAME"
# The connector checks these in this order (config_manager.py).
_SKIP_WARNING_VARS = (
    "SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION",
    "SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION",
    "SF_SKIP_WARNING_FOR_READ_PERMISSIONS_ON_CONFIG_FILE",
)
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH
_READABLE_BY_OTHERS = stat.S_IRGRP | stat.S_IROTH
_IS_WINDOWS = sys.platform.startswith("win")

# Connection parameters whose values are secrets (connector DEFAULT_CONFIGURATION names).
SECRET_KEYS = frozenset({
    "password", "passcode", "token", "private_key", "private_key_passphrase", "private_key_file_pwd",
    "proxy_password", "oauth_client_secret", "session_token", "master_token", "oauth_refresh_token",
})
# Shown in summaries; everything else stays out of output.
PUBLIC_KEYS = ("account", "user", "host", "role", "warehouse", "database", "schema", "authenticator", "region")


def config_directory(env: Mapping[str, str] | None = None) -> Path:
    """The directory the connector reads connections.toml and config.toml from."""
    env = os.environ if env is None else env
    home = Path(env.get(ENV_HOME, "~/.snowflake/")).expanduser()
    if home.exists():
        return home
    return _platform_config_dir(env)


def _platform_config_dir(env: Mapping[str, str]) -> Path:
    try:
        from platformdirs import PlatformDirs  # a dependency of the connector
    except ImportError:  # same rules as platformdirs' user_config_path for the common systems
        if sys.platform == "darwin":
            return Path("~/Library/Application Support/snowflake").expanduser()
        if _IS_WINDOWS:
            return Path(env.get("LOCALAPPDATA", "~/AppData/Local")).expanduser() / "snowflake"
        base = env.get("XDG_CONFIG_HOME", "").strip() or "~/.config"
        return Path(base).expanduser() / "snowflake"
    return Path(PlatformDirs(appname="snowflake", appauthor=False).user_config_path)


@dataclass(frozen=True)
class ResolvedConnection:
    """A connection chosen from the config files. params holds secrets: never print it."""

    name: str
    name_source: str  # which rule chose the name (see the module docstring)
    params: dict = field(repr=False)
    files: tuple[str, ...] = ()  # files that were read
    warnings: tuple[str, ...] = ()

    @property
    def account(self) -> str | None:
        """The account this connection logs in to, as the user wrote it (or its host)."""
        return str(self.params.get("account") or "") or self.host

    def summary(self) -> dict:
        """The non-secret facts about this connection, safe to print."""
        shown = {key: self.params[key] for key in PUBLIC_KEYS if self.params.get(key) not in (None, "")}
        return {"name": self.name, "name_source": self.name_source, "files": list(self.files), **shown}

    @property
    def host(self) -> str | None:
        """The host the connector will log in to: the explicit host, else one built from account
        and region the way the connector does (util_text.construct_hostname: a region or an
        account suffix starting with "cn-" means the China domain snowflakecomputing.cn)."""
        host = self.params.get("host")
        if host:
            return str(host)
        account = str(self.params.get("account") or "")
        if not account:
            return None
        region = str(self.params.get("region") or "")
        region = "" if region == "us-west-2" else region
        if region:
            domain = "cn" if region.lower().startswith("cn-") else "com"
            return f"{account.split('.')[0]}.{region}.snowflakecomputing.{domain}"
        parts = account.split(".")
        domain = "cn" if len(parts) > 1 and parts[1].lower().startswith("cn-") else "com"
        return f"{account}.snowflakecomputing.{domain}"

    @property
    def is_china_host(self) -> bool:
        return bool(self.host) and self.host.lower().rstrip(".").endswith(".cn")


@dataclass
class _Config:
    default_name: str | None = None  # default_connection_name from config.toml
    connections: dict | None = None
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def resolve_connection(name: str | None = None, env: Mapping[str, str] | None = None, *,
                       source: str = "--connection") -> ResolvedConnection:
    """Pick the connection the user means and return its parameters, with secrets registered.
    `source` says where an explicit name came from (the flag, or the plan that recorded it)."""
    env = os.environ if env is None else env
    chosen, source = (name, source) if name else _chosen_name(None, env)
    directory = config_directory(env)
    files = _read_files(directory, env) if (chosen is None or ENV_CONNECTIONS not in env) else _Config()
    if chosen is None:
        chosen, source = (files.default_name, "default_connection_name in config.toml") if files.default_name \
            else (DEFAULT_CONNECTION_NAME, "built-in default name")
    if ENV_CONNECTIONS in env:
        connections = _parse_env_connections(env[ENV_CONNECTIONS])
        where = f"the {ENV_CONNECTIONS} environment variable"
    else:
        connections = files.connections
        where = " / ".join(str(directory / n) for n in (CONNECTIONS_FILE_NAME, CONFIG_FILE_NAME))
    if connections is None:
        raise SpcsLlmError(
            f"no Snowflake connection is configured: neither {directory / CONNECTIONS_FILE_NAME} "
            f"nor {directory / CONFIG_FILE_NAME} exists",
            hint=f"create {directory / CONNECTIONS_FILE_NAME} with a [{chosen}] table (account, user, "
            "authenticator, ...) and chmod 0600 it, or point SNOWFLAKE_HOME at the folder that holds it; "
            "see docs/account.md#connection",
            exit_code=EXIT_ENVIRONMENT,
        )
    if chosen not in connections or not isinstance(connections[chosen], dict):
        known = ", ".join(sorted(connections)) or "none"
        raise SpcsLlmError(
            f"Snowflake connection {chosen!r} ({source}) is not defined in {where}; available: {known}",
            hint="pass --connection NAME with one of the available names, or add the connection; "
            "see docs/account.md#connection",
            exit_code=EXIT_ENVIRONMENT,
        )
    params = dict(connections[chosen])
    register_connection_secrets(params)
    return ResolvedConnection(name=chosen, name_source=source, params=params, files=tuple(files.files),
                              warnings=tuple(files.warnings))


@dataclass(frozen=True)
class ConnectionChoice:
    """Which connection a step acts on: --connection > the plan's recorded one > the default chain."""

    name: str | None  # None: the connector's default chain decides
    source: str  # "--connection", "the plan <path>" or "" (default chain)
    recorded: str | None  # what the plan records (None: nothing yet)
    plan_path: str | None  # the plan file that exists (None: no plan file)

    @property
    def records(self) -> bool:
        """True when a live step should (re)write the plan's snowflake.connection."""
        return self.plan_path is not None


def choose_connection(flag: str | None, recorded: str | None, *, rebind: bool = False,
                      plan_path: str | None = None) -> ConnectionChoice:
    """The one connection rule every live step and rendered script follows. A plan that recorded a
    connection refuses another --connection unless --rebind: the wrong account costs real money."""
    if flag is not None and not str(flag).strip():
        raise SpcsLlmError("--connection needs a connection name", hint="pass --connection NAME")
    if recorded and flag and flag != recorded and not rebind:
        raise SpcsLlmError(
            f"the plan {plan_path} acts on connection {recorded!r}, and --connection names {flag!r}",
            hint=f"drop --connection to keep using {recorded!r}, or add --rebind to switch this plan to "
            f"{flag!r} (check it is the account you mean: spcs-llm preflight --connection {flag} --rebind)",
        )
    if flag:
        return ConnectionChoice(flag, "--connection", recorded, plan_path)
    if recorded:
        return ConnectionChoice(recorded, f"the plan {plan_path}", recorded, plan_path)
    return ConnectionChoice(None, "", recorded, plan_path)


def available_connections(env: Mapping[str, str] | None = None) -> list[str]:
    """Names of the configured connections (empty when nothing is configured)."""
    env = os.environ if env is None else env
    if ENV_CONNECTIONS in env:
        return sorted(_parse_env_connections(env[ENV_CONNECTIONS]))
    return sorted(_read_files(config_directory(env), env).connections or {})


def register_connection_secrets(params: Mapping) -> None:
    for key, value in params.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "ignore")
        if isinstance(value, str) and key.lower() in SECRET_KEYS:
            register_secret(value)


def _chosen_name(name: str | None, env: Mapping[str, str]) -> tuple[str | None, str]:
    if name:
        return name, "--connection"
    for var in (ENV_DEFAULT_NAME, ENV_CLI_NAME):
        if env.get(var):
            return env[var], var
    return None, ""


def _parse_env_connections(text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpcsLlmError(f"the {ENV_CONNECTIONS} environment variable is not valid TOML: {err}",
                           exit_code=EXIT_ENVIRONMENT) from err


def _read_files(directory: Path, env: Mapping[str, str]) -> _Config:
    """Read config.toml, then connections.toml over its [connections] table (connector order)."""
    out = _Config()
    config_doc = _read_toml(directory / CONFIG_FILE_NAME, env, out)
    connections_doc = _read_toml(directory / CONNECTIONS_FILE_NAME, env, out)
    if config_doc is not None:
        default = config_doc.get("default_connection_name")
        out.default_name = default if isinstance(default, str) and default else None
        if isinstance(config_doc.get("connections"), dict):
            out.connections = config_doc["connections"]
        else:
            out.connections = {}
    if connections_doc is not None:
        out.connections = connections_doc
    return out


def _read_toml(path: Path, env: Mapping[str, str], out: _Config) -> dict | None:
    try:
        if not path.exists():
            return None
    except PermissionError:  # the connector skips a file whose folder it cannot read
        return None
    check_permissions(path, env, out.warnings)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as err:
        raise SpcsLlmError(f"cannot read Snowflake config file {path}: {err}",
                           hint="fix the TOML syntax (see docs/account.md#connection)",
                           exit_code=EXIT_ENVIRONMENT) from err
    out.files.append(str(path))
    return data


def check_permissions(path: Path, env: Mapping[str, str], warnings: list[str]) -> None:
    """The connector's checks: refuse group/other-writable files, warn on readable or foreign ones."""
    if _IS_WINDOWS:
        return
    info = path.stat()
    if info.st_mode & _WRITABLE_BY_OTHERS:
        raise SpcsLlmError(
            f"Snowflake config file {path} is writable by group or others (permissions "
            f"{oct(info.st_mode)[-3:]}); the Snowflake connector refuses to read it",
            hint=f'run: chmod 0600 "{path}"',
            exit_code=EXIT_ENVIRONMENT,
        )
    foreign = hasattr(os, "getuid") and info.st_uid not in (0, os.getuid())
    if (info.st_mode & _READABLE_BY_OTHERS or foreign) and not _skip_read_warning(env):
        message = (f"Bad owner or permissions on {path}: to change owner, run `chown $USER \"{path}\"`; "
                   f"to restrict permissions, run `chmod 0600 \"{path}\"`; to skip this warning, set "
                   f"{_SKIP_WARNING_VARS[0]}=true")
        warnings.append(message)
        sys.stderr.write(f"warning: {message}\n")


def _skip_read_warning(env: Mapping[str, str]) -> bool:
    for var in _SKIP_WARNING_VARS:
        if var in env:
            return env[var].lower() == "true"
    return False
