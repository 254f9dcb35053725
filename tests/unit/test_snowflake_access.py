"""SqlRunner: dry run never connects, --yes gates changes, replay, rows shaped by documented columns."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from spcs_llm.errors import SpcsLlmError
from spcs_llm.redact import register_secret
from spcs_llm.snowflake import access, columns, replay
from spcs_llm.snowflake import session as session_module
from spcs_llm.snowflake.args import add_snowflake_arguments
from spcs_llm.snowflake.config import ResolvedConnection


@pytest.fixture(autouse=True)
def no_login(monkeypatch):
    """Any attempt to log in fails the test."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("the session factory was called")

    monkeypatch.setattr(session_module, "connect", refuse)
    monkeypatch.setattr(session_module, "snowpark_session", refuse)
    monkeypatch.delenv(replay.ENV_REPLAY_DIR, raising=False)
    monkeypatch.delenv(replay.ENV_RECORD_DIR, raising=False)
    monkeypatch.delenv(access.ENV_STATEMENT_LOG, raising=False)


def parse(argv, writes=True):
    parser = argparse.ArgumentParser()
    add_snowflake_arguments(parser, writes=writes)
    return parser.parse_args(argv)


def test_arguments_added_once_and_yes_only_for_writers():
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", default="mine.yaml")
    add_snowflake_arguments(parser, writes=False)
    args = parser.parse_args(["--connection", "dev", "--dry-run"])
    assert (args.connection, args.dry_run, args.plan) == ("dev", True, "mine.yaml")
    assert not hasattr(args, "yes")
    assert parse(["--yes"]).yes is True


def test_dry_run_prints_logs_and_never_connects(tmp_path):
    echo = io.StringIO()
    runner = access.SqlRunner(dry_run=True, log_path=tmp_path / "log" / "statements.log", echo=echo)
    assert runner.query("SHOW COMPUTE POOLS", doc="show-compute-pools") == []
    assert runner.execute("CREATE COMPUTE POOL IF NOT EXISTS P MIN_NODES = 1") == []
    assert runner.statements == ["SHOW COMPUTE POOLS", "CREATE COMPUTE POOL IF NOT EXISTS P MIN_NODES = 1"]
    assert "SHOW COMPUTE POOLS;" in echo.getvalue() and "dry run" in echo.getvalue()
    lines = (tmp_path / "log" / "statements.log").read_text().splitlines()
    assert len(lines) == 2 and "\tdry-run\texecute\t" in lines[1] and "not run" in lines[1]
    with pytest.raises(SpcsLlmError):
        runner.session()


def test_execute_refuses_without_yes_naming_the_flag(tmp_path):
    runner = access.SqlRunner(replay_dir=tmp_path, log_path=tmp_path / "s.log")
    with pytest.raises(SpcsLlmError) as err:
        runner.execute("DROP SERVICE DB.SCH.SVC")
    assert err.value.exit_code == 2 and "--yes" in err.value.message + err.value.hint
    assert "refused" in (tmp_path / "s.log").read_text()


def test_from_args_puts_the_log_beside_the_plan(tmp_path, monkeypatch):
    monkeypatch.setenv(replay.ENV_REPLAY_DIR, str(tmp_path / "rec"))
    args = parse(["--plan", str(tmp_path / "sub" / "deployment.yaml"), "--yes", "--connection", "c1"])
    runner = access.SqlRunner.from_args(args)
    assert runner.log_path == tmp_path / "sub" / ".spcs-llm" / "statements.log"
    assert runner.mode == "replay" and runner.yes and runner.connection_name == "c1"


def test_replay_returns_rows_with_every_documented_column(tmp_path):
    sql = "SHOW ENDPOINTS IN SERVICE DB.SCH.SVC"
    (tmp_path / replay.file_name(sql)).write_text(json.dumps(
        {"_source": "https://docs.snowflake.com/en/sql-reference/sql/show-endpoints",
         "rows": [{"name": "api", "port": 8000, "port_range": None, "protocol": "HTTP", "is_public": "true",
                   "ingress_url": "abc-org-acct.snowflakecomputing.app"}]}))
    rows = access.SqlRunner(replay_dir=tmp_path).query(sql + ";", doc="show-endpoints")
    assert rows[0]["privatelink_ingress_url"] is None and rows[0]["port"] == 8000
    assert list(rows[0]) == list(columns.DOCS["show-endpoints"].columns)


def test_replay_rejects_undocumented_columns(tmp_path):
    sql = "SHOW COMPUTE POOLS"
    (tmp_path / replay.file_name(sql)).write_text(json.dumps([{"name": "P", "gpu_type": "A10G"}]))
    with pytest.raises(SpcsLlmError, match="gpu_type"):
        access.SqlRunner(replay_dir=tmp_path).query(sql, doc="show-compute-pools")


def test_replay_missing_recording_names_the_file(tmp_path):
    with pytest.raises(SpcsLlmError) as err:
        access.SqlRunner(replay_dir=tmp_path).query("SHOW SERVICES LIKE 'X' IN SCHEMA D.S", doc="show-services")
    assert "show_services_like_x_in_schema_d_s.json" in err.value.message


def test_replayed_error_carries_errno(tmp_path):
    sql = "DESCRIBE SERVICE D.S.GONE"
    (tmp_path / replay.file_name(sql)).write_text(json.dumps(
        {"error": {"errno": 2003, "sqlstate": "02000", "message": "Service 'GONE' does not exist."}}))
    with pytest.raises(access.SqlError) as err:
        access.SqlRunner(replay_dir=tmp_path).query(sql, doc="describe-service")
    assert err.value.does_not_exist and err.value.exit_code == 3


def test_dry_run_with_replay_answers_queries_but_not_executes(tmp_path):
    sql = "SHOW COMPUTE POOLS"
    (tmp_path / replay.file_name(sql)).write_text(json.dumps([{"name": "P", "state": "IDLE"}]))
    runner = access.SqlRunner(dry_run=True, replay_dir=tmp_path, echo=io.StringIO())
    assert runner.query(sql, doc="show-compute-pools")[0]["state"] == "IDLE"
    assert runner.execute("DROP COMPUTE POOL P") == []


def test_unknown_doc_key_is_an_error_listing_known_keys():
    with pytest.raises(SpcsLlmError, match="show-compute-pools"):
        access.SqlRunner(dry_run=True, echo=io.StringIO()).query("SHOW X", doc="show-xs")
    assert access.SqlRunner(dry_run=True, echo=io.StringIO()).query(
        "SHOW X", doc="https://docs.snowflake.com/x") == []


def test_log_is_redacted(tmp_path):
    register_secret("hf_token_value_123456")
    runner = access.SqlRunner(dry_run=True, log_path=tmp_path / "s.log", echo=io.StringIO())
    runner.execute("CREATE SECRET S TYPE = GENERIC_STRING SECRET_STRING = 'hf_token_value_123456'")
    text = (tmp_path / "s.log").read_text()
    assert "hf_token_value_123456" not in text and "****" in text


class FakeCursor:
    def __init__(self, rows):
        self.rows = rows
        self.description = [("x",)] if rows else None
        self.executed = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql):
        self.executed.append(sql)

    def fetchall(self):
        return self.rows


class FakeConnection:
    def __init__(self, rows):
        self.cursor_obj = FakeCursor(rows)
        self.closed = False

    def cursor(self, _cls=None):
        return self.cursor_obj

    def close(self):
        self.closed = True


def test_live_rows_are_lowercased_and_json_friendly(monkeypatch, tmp_path):
    import datetime
    import decimal

    pytest.importorskip("snowflake.connector")
    fake = FakeConnection([{"NAME": "P", "MIN_NODES": decimal.Decimal(1),
                            "CREATED_ON": datetime.datetime(2026, 1, 2, 3, 4, 5)}])
    monkeypatch.setattr(session_module, "connect", lambda resolved: fake)
    runner = access.SqlRunner(log_path=tmp_path / "s.log")
    # resolution is tested in test_snowflake_config
    runner._resolved = ResolvedConnection(name="t", name_source="test", params={"account": "XY12345"})
    monkeypatch.setenv(replay.ENV_RECORD_DIR, str(tmp_path / "rec"))
    runner._record_dir = tmp_path / "rec"
    rows = runner.query("SHOW COMPUTE POOLS", doc="show-compute-pools")
    assert rows[0]["name"] == "P" and rows[0]["min_nodes"] == 1 and rows[0]["created_on"] == "2026-01-02T03:04:05"
    assert rows[0]["state"] is None  # documented column the fake did not return
    recorded = json.loads((tmp_path / "rec" / "show_compute_pools.json").read_text())
    assert recorded["rows"][0]["min_nodes"] == 1 and recorded["_source"].endswith("show-compute-pools")
    runner.close()
    assert fake.closed
