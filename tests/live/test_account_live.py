"""The account steps against a real account: read-only steps, then create and drop a tiny pool."""

from __future__ import annotations

import json

import pytest

from spcs_llm import cli
from spcs_llm.snowflake import columns, statements
from spcs_llm.snowflake.access import SqlRunner


def run(capsys, *argv):
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_preflight_reads_the_account(live_connection, live_env, capsys):
    code, data = run(capsys, "preflight", "--connection", live_connection)
    assert code in (0, 1), data
    assert data["mode"] == "live" and data["user"] and data["role"] and data["region"]
    assert data["cloud"] in ("aws", "azure", "gcp")
    assert {c["status"] for c in data["checks"]} <= {"ok", "missing", "unknown"}
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id["role"]["status"] in ("ok", "missing") and by_id["event_table"]["status"] != "unknown"
    assert (live_env / ".spcs-llm" / "statements.log").exists()


@pytest.mark.parametrize(("sql", "doc"), [
    (statements.show_instance_families(), "show-compute-pool-instance-families"),
    (statements.show_compute_pools(), "show-compute-pools"),
    (statements.show_event_table_parameter(), "show-parameters"),
    (statements.context(), "context-functions"),
])
def test_live_columns_are_the_documented_ones(live_connection, live_env, monkeypatch, sql, doc):
    """Record the raw response and compare its columns with columns.py (the fixtures' contract)."""
    record_dir = live_env / "recorded"
    monkeypatch.setenv("SPCS_LLM_RECORD_DIR", str(record_dir))
    with SqlRunner(connection=live_connection, log_path=live_env / "s.log") as runner:
        runner.query(sql, doc=doc)
    from spcs_llm.snowflake import replay

    payload = json.loads((record_dir / replay.file_name(sql)).read_text())
    if not payload["rows"]:
        pytest.skip(f"{sql}: no rows to compare")
    spec = columns.DOCS[doc]
    returned = set(payload["rows"][0])
    assert set(spec.columns) - returned <= {"privatelink_ingress_url"}, "documented columns missing live"
    assert returned - set(spec.columns) - set(spec.tolerated) == set(), "undocumented columns returned live"


def test_pools_lists_the_live_families(live_connection, live_env, capsys):
    code, data = run(capsys, "pools", "--connection", live_connection, "--all")
    assert code == 0, data["problems"]  # no plan: nothing to disagree with
    assert data["families"], "the account lists no instance family"
    assert all(isinstance(f["gpu_count"], int) for f in data["families"])


def test_create_then_drop_a_suspended_cpu_pool(live_connection, live_env, unique_name, capsys):
    """CPU_X64_XS, created suspended: no node starts, so nothing is billed; dropped at the end."""
    try:
        code, data = run(capsys, "create-pool", "--connection", live_connection, "--name", unique_name,
                         "--instance-family", "CPU_X64_XS", "--initially-suspended", "--auto-suspend-secs", "300",
                         "--yes")
        if code == 3 and "privileges" in json.dumps(data).lower():
            pytest.skip(f"the role cannot create compute pools: {data.get('error')}")
        assert code == 0 and data["created"], data
        with SqlRunner(connection=live_connection, log_path=live_env / "s.log") as runner:
            rows = [r for r in runner.query(statements.show_compute_pools(unique_name), doc="show-compute-pools")
                    if r["name"] == unique_name]
        assert rows and rows[0]["instance_family"] == "CPU_X64_XS"
        assert rows[0]["state"] in ("SUSPENDED", "STARTING", "IDLE")
        # a second run finds it and changes nothing
        code, again = run(capsys, "create-pool", "--connection", live_connection, "--name", unique_name,
                          "--instance-family", "CPU_X64_XS", "--yes")
        assert code == 0 and again["existing"] and not again["created"]
    finally:
        with SqlRunner(connection=live_connection, yes=True, log_path=live_env / "s.log") as runner:
            runner.execute(statements.drop_compute_pool(unique_name))
    with SqlRunner(connection=live_connection, log_path=live_env / "s.log") as runner:
        left = [r for r in runner.query(statements.show_compute_pools(unique_name), doc="show-compute-pools")
                if r["name"] == unique_name]
    assert left == []


def _current_schema(connection: str, log) -> tuple[str, str] | None:
    with SqlRunner(connection=connection, log_path=log) as runner:
        row = runner.query(statements.context(), doc="context-functions")[0]
    if not row["database_name"] or not row["schema_name"]:
        return None
    return row["database_name"], row["schema_name"]


def test_service_check_and_status_of_an_absent_service(live_connection, live_env, unique_name, capsys):
    where = _current_schema(live_connection, live_env / "s.log")
    if where is None or not all(statements.is_plain(part) for part in where):
        pytest.skip("the connection has no (plain) current database and schema")
    db, schema = where
    code, data = run(capsys, "service-check", "--connection", live_connection, "--name", unique_name,
                     "--database", db, "--schema", schema)
    assert code == 0 and data["state"] == "absent"
    code, data = run(capsys, "status", "--connection", live_connection, "--name", unique_name,
                     "--database", db, "--schema", schema)
    assert code == 1 and data["phase"] == "missing"
