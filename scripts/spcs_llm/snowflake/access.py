"""SqlRunner: the one way a step talks to Snowflake.

Three modes, chosen once per step run:
- live: the first statement logs in (lazily), rows come back keyed by the documented columns;
- replay (SPCS_LLM_REPLAY_DIR set): rows come from recorded JSON files, nothing connects;
- dry run (--dry-run): statements are printed (stderr) and logged, nothing connects; queries
  return the recording when a replay directory is set, else [].

execute() is for statements that change or cost something: it refuses without --yes (exit 2)
unless this is a dry run. Every statement, run or not, is kept in runner.statements and appended,
redacted and timestamped, to the statement log (.spcs-llm/statements.log beside the plan).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import EXIT_ENVIRONMENT, EXIT_USAGE, SpcsLlmError
from ..redact import redact
from . import columns, replay
from . import session as session_module
from .args import connection_choice
from .config import ConnectionChoice, ResolvedConnection, resolve_connection

ENV_STATEMENT_LOG = "SPCS_LLM_STATEMENT_LOG"
LOG_DIR_NAME = ".spcs-llm"
LOG_FILE_NAME = "statements.log"
LAST_TARGET_LINE: str | None = None  # the latest run's "acting on account ..." line (see announce)


class SqlError(SpcsLlmError):
    """Snowflake rejected a statement; errno/sqlstate let a step tell "does not exist" apart."""

    def __init__(self, message: str, *, errno: int | None = None, sqlstate: str | None = None,
                 sql: str = "", hint: str | None = None):
        super().__init__(message, hint=hint, exit_code=EXIT_ENVIRONMENT)
        self.errno = errno
        self.sqlstate = sqlstate
        self.sql = sql

    @property
    def does_not_exist(self) -> bool:
        # 002003: "Object does not exist, or operation cannot be performed" (sqlstate 02000).
        return self.errno == 2003 or "does not exist" in self.message.lower()

    @property
    def insufficient_privileges(self) -> bool:
        # 003001: "Insufficient privileges to operate on ..." (sqlstate 42501).
        return self.errno == 3001 or self.sqlstate == "42501" or "insufficient privileges" in self.message.lower()


@dataclass
class StatementRecord:
    at: str
    mode: str  # live | replay | dry-run
    kind: str  # query | execute
    sql: str
    outcome: str = ""  # "3 rows", "error 2003: ...", "not run"

    def as_dict(self) -> dict:
        return {"at": self.at, "mode": self.mode, "kind": self.kind, "sql": redact(self.sql),
                "outcome": redact(self.outcome)}


def default_log_path(plan_path: str | os.PathLike | None) -> Path:
    override = os.environ.get(ENV_STATEMENT_LOG)
    if override:
        return Path(override)
    base = Path(plan_path).resolve().parent if plan_path else Path.cwd()
    return base / LOG_DIR_NAME / LOG_FILE_NAME


class SqlRunner:
    def __init__(self, *, connection: str | None = None, dry_run: bool = False, yes: bool = False,
                 replay_dir: str | os.PathLike | None = None, log_path: str | os.PathLike | None = None,
                 echo: TextIO | None = None, choice: ConnectionChoice | None = None):
        self.choice = choice or ConnectionChoice(connection, "--connection" if connection else "", None, None)
        self.connection_name = self.choice.name
        self._announced = False
        self._connection_recorded = False
        self.dry_run = bool(dry_run)
        self.yes = bool(yes)
        self.replay_dir = Path(replay_dir) if replay_dir else None
        self.log_path = Path(log_path) if log_path else None
        self._echo = echo
        self.statements: list[str] = []  # exact SQL, in order (run or would-be)
        self.records: list[StatementRecord] = []
        self._resolved: ResolvedConnection | None = None
        self._connection = None
        self._snowpark = None
        self._record_dir = Path(os.environ[replay.ENV_RECORD_DIR]) if os.environ.get(replay.ENV_RECORD_DIR) \
            else None

    @classmethod
    def from_args(cls, args, plan: dict | None = None) -> SqlRunner:
        """One runner per step run, from the flags add_snowflake_arguments() added. The connection is
        --connection, else the plan's recorded snowflake.connection, else the connector's default chain;
        a --connection other than the recorded one is refused (exit 2) unless --rebind."""
        return cls(
            choice=connection_choice(args, plan),
            dry_run=getattr(args, "dry_run", False),
            yes=getattr(args, "yes", False),
            replay_dir=replay.replay_dir_from_env(),
            log_path=default_log_path(getattr(args, "plan", None)),
        )

    # -- mode ----------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        if self.dry_run:
            return "dry-run"
        return "replay" if self.replay_dir else "live"

    @property
    def reads(self) -> bool:
        """False in a dry run without recordings: queries return [] because nothing was read."""
        return not (self.dry_run and self.replay_dir is None)

    @property
    def offline(self) -> bool:
        """True when nothing will connect (dry run or replay)."""
        return self.mode != "live"

    # -- statements ----------------------------------------------------------------------------
    def query(self, sql: str, *, doc: str) -> list[dict]:
        """Run a read-only statement; rows keyed by the documented (lower-case) column names."""
        columns.lookup(doc)  # fail fast on a typo in the doc key, in every mode
        return self._run(sql, kind="query", doc=doc)

    def execute(self, sql: str, *, doc: str | None = "ddl-status") -> list[dict]:
        """Run a statement that changes or costs something: needs --yes (not in a dry run)."""
        if not self.dry_run and not self.yes:
            self._note(sql, "execute", "refused: --yes not given")
            raise SpcsLlmError(
                "this statement changes your Snowflake account and needs --yes:\n  " + redact(sql.strip()),
                hint="re-run with --yes to run it, or with --dry-run to only print it",
                exit_code=EXIT_USAGE,
            )
        return self._run(sql, kind="execute", doc=doc)

    def _run(self, sql: str, *, kind: str, doc: str | None) -> list[dict]:
        sql = sql.strip()
        self.announce()
        if self.dry_run:
            self._print_dry_run(sql)
            if kind == "execute" or self.replay_dir is None:
                self._note(sql, kind, "not run (dry run)")
                return []
        if self.replay_dir is not None:
            return self._replay(sql, kind, doc)
        return self._live(sql, kind, doc)

    def _replay(self, sql: str, kind: str, doc: str | None) -> list[dict]:
        try:
            recording = replay.load(self.replay_dir, sql)
        except SpcsLlmError as err:
            self._note(sql, kind, f"error: {err.message}")
            raise
        if recording.error is not None:
            error = _error_from_recording(recording.error, sql)
            self._note(sql, kind, f"error {error.errno}: {error.message}")
            raise error
        rows = columns.shape(recording.rows, doc, strict=True, where=str(recording.path)) if doc else recording.rows
        self._note(sql, kind, f"{len(rows)} rows (replayed)")
        # a replay stands in for the live account, so the plan pins its connection as a live run
        # would (walk reg1: the steps after `preflight --connection prod` fell back to the default)
        self._record_connection()
        return rows

    def _live(self, sql: str, kind: str, doc: str | None) -> list[dict]:
        connection = self._connect()
        from snowflake.connector import DictCursor
        from snowflake.connector.errors import Error as ConnectorError

        try:
            with connection.cursor(DictCursor) as cursor:
                cursor.execute(sql)
                raw = cursor.fetchall() if cursor.description else []
        except ConnectorError as err:
            error = SqlError(
                f"Snowflake rejected the statement ({_first_line(sql)}): "
                + redact(str(getattr(err, "msg", None) or err)),
                errno=getattr(err, "errno", None), sqlstate=getattr(err, "sqlstate", None), sql=sql,
            )
            self._note(sql, kind, f"error {error.errno}: {error.message}")
            if self._record_dir:
                replay.record(self._record_dir, sql, source=_doc_url(doc), error={
                    "errno": error.errno, "sqlstate": error.sqlstate, "message": error.message})
            raise error from err
        rows = [_json_row(row) for row in raw]
        if self._record_dir:
            replay.record(self._record_dir, sql, rows, source=_doc_url(doc))
        rows = columns.shape(rows, doc, strict=False) if doc else rows
        self._note(sql, kind, f"{len(rows)} rows")
        self._record_connection()
        return rows

    # -- connection ----------------------------------------------------------------------------
    @property
    def resolved(self) -> ResolvedConnection:
        """The connection from the config files (resolving reads files only, never logs in)."""
        if self._resolved is None:
            self._resolved = resolve_connection(self.connection_name, source=self.choice.source or "--connection")
        return self._resolved

    def acting_on(self) -> dict:
        """The connection and account this run acts on (config files only, never a login). A dry run
        or replay without a configured connection says so instead of failing."""
        try:
            resolved = self.resolved
        except SpcsLlmError as err:
            if self.mode == "live":
                raise
            return _unresolved(self.choice, err)
        return _target(resolved)

    def target_line(self) -> str:
        """'acting on account XY12345 (connection prod)', the first line of every account step."""
        return target_line(self.acting_on(), self.mode, self.replay_dir)

    def announce(self) -> None:
        """Name the account on stderr once, before the first statement of the run; cli.py also puts
        the line in the step's --json (acting_on) and at the top of its checkpoint summary."""
        global LAST_TARGET_LINE
        if not self._announced:
            self._announced = True
            LAST_TARGET_LINE = self.target_line()
            (self._echo or sys.stderr).write(redact(LAST_TARGET_LINE) + "\n")

    def _record_connection(self) -> None:
        """After the first live statement succeeds: the plan remembers the connection it used, so
        every later step (and rendered script) acts on the same account."""
        if self._connection_recorded or not self.choice.records:
            return
        self._connection_recorded = True
        try:
            name = self.resolved.name
        except SpcsLlmError:  # a replay without that connection configured: nothing to record
            return
        if name == self.choice.recorded:
            return
        from .. import plan_file

        try:
            plan_file.pin(self.choice.plan_path, "connection", {"snowflake.connection": name})
        except SpcsLlmError as err:  # the step's own work succeeded; say why the plan did not change
            sys.stderr.write(redact(f"warning: could not record connection {name!r} in the plan: {err.message}\n"))

    def _connect(self):
        if self.offline:
            raise SpcsLlmError(f"internal: a {self.mode} run tried to connect to Snowflake", exit_code=EXIT_ENVIRONMENT)
        if self._connection is None:
            self._connection = session_module.connect(self.resolved)
        return self._connection

    def session(self):
        """A Snowpark Session over this runner's connection (for snowflake-ml-python)."""
        if self.offline:
            raise SpcsLlmError(f"a Snowpark session is not available in a {self.mode} run",
                               hint="drop --dry-run / unset SPCS_LLM_REPLAY_DIR to talk to Snowflake",
                               exit_code=EXIT_ENVIRONMENT)
        if self._snowpark is None:
            self._snowpark = session_module.snowpark_session(self._connect())
        return self._snowpark

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
                self._snowpark = None

    def __enter__(self) -> SqlRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- log -----------------------------------------------------------------------------------
    def _print_dry_run(self, sql: str) -> None:
        stream = self._echo or sys.stderr
        stream.write(redact(f"-- dry run, not executed:\n{sql};\n"))

    def _note(self, sql: str, kind: str, outcome: str) -> None:
        record = StatementRecord(at=_now(), mode=self.mode, kind=kind, sql=sql, outcome=outcome)
        self.statements.append(sql)
        self.records.append(record)
        if self.log_path is not None:
            _append_log(self.log_path, record, self._resolved.name if self._resolved else self.connection_name)


def describe_target(choice: ConnectionChoice) -> dict:
    """acting_on() for a step that renders a script instead of running statements: reads the
    config files only, and says "not configured here" rather than failing."""
    try:
        return _target(resolve_connection(choice.name, source=choice.source or "--connection"))
    except SpcsLlmError as err:
        return _unresolved(choice, err)


def target_line(target: dict, mode: str = "live", replay_dir: Path | None = None) -> str:
    account = target["account"] or "unknown"
    line = f"acting on account {account} (connection {target['connection']})"
    if mode == "dry-run":
        line = "dry run, " + line.replace("acting on", "would act on")
    elif mode == "replay":
        line = f"replay from {replay_dir}, " + line.replace("acting on", "standing in for")
    if target["problem"]:
        line += f": {target['problem']}"
    return line


def _target(resolved: ResolvedConnection) -> dict:
    return {"connection": resolved.name, "account": resolved.account, "source": resolved.name_source,
            "problem": None}


def _unresolved(choice: ConnectionChoice, err: SpcsLlmError) -> dict:
    return {"connection": choice.name or "(default)", "account": None, "source": choice.source,
            "problem": "not configured here (" + err.message.split(";")[0].split(":")[0] + ")"}


def _append_log(path: Path, record: StatementRecord, connection: str | None) -> None:
    one_line_sql = " ".join(record.sql.split())
    line = (f"{record.at}\t{record.mode}\t{record.kind}\tconnection={connection or '(default)'}\t"
            f"{one_line_sql}\t-> {' '.join(record.outcome.split())}\n")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One write call with O_APPEND: lines from concurrent steps do not interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, redact(line).encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as err:  # the log must never stop a step; say so once
        sys.stderr.write(f"warning: cannot write the statement log {path}: {err}\n")


def _error_from_recording(error: dict, sql: str) -> SqlError:
    return SqlError(f"Snowflake rejected the statement ({_first_line(sql)}): {error.get('message', '')}",
                    errno=error.get("errno"), sqlstate=error.get("sqlstate"), sql=sql)


def _json_row(row: dict) -> dict:
    """Lower-case keys and JSON-friendly values, so live rows look like recorded ones."""
    return {str(key).lower(): _json_value(value) for key, value in row.items()}


def _json_value(value):
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return value


def _doc_url(doc: str | None) -> str | None:
    if not doc:
        return None
    spec = columns.lookup(doc)
    return spec.url if spec else doc


def _first_line(sql: str) -> str:
    line = " ".join(sql.split())
    return line if len(line) <= 80 else line[:77] + "..."


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
