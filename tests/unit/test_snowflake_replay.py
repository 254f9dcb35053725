"""Recording file names and formats."""

from __future__ import annotations

import json

import pytest

from spcs_llm.errors import SpcsLlmError
from spcs_llm.snowflake import replay


def test_normalise_ignores_whitespace_and_trailing_semicolons():
    assert replay.normalise("  SHOW\n  COMPUTE   POOLS ;; ") == "SHOW COMPUTE POOLS"


def test_file_name_is_readable_and_stable():
    assert replay.file_name("SHOW COMPUTE POOL INSTANCE FAMILIES;") == "show_compute_pool_instance_families.json"
    long_sql = "SELECT " + ", ".join(f"C{i}" for i in range(80))
    name = replay.file_name(long_sql)
    assert len(name) <= 105 and name == replay.file_name(long_sql + " ;")
    assert name != replay.file_name(long_sql.replace("C79", "C78"))


def test_statement_guard_catches_two_statements_with_one_file_name(tmp_path):
    (tmp_path / replay.file_name("SHOW SERVICES IN SCHEMA A.B")).write_text(
        json.dumps({"statement": "SHOW SERVICES IN SCHEMA A_B", "rows": []}))
    with pytest.raises(SpcsLlmError, match="records"):
        replay.load(tmp_path, "SHOW SERVICES IN SCHEMA A.B")


def test_record_then_load_round_trip(tmp_path):
    path = replay.record(tmp_path, "SHOW COMPUTE POOLS", [{"name": "P"}], source="https://x")
    loaded = replay.load(tmp_path, "show compute pools".upper())
    assert loaded.rows == [{"name": "P"}] and loaded.source == "https://x" and loaded.path == path


def test_rows_must_be_mappings(tmp_path):
    (tmp_path / "show_x.json").write_text(json.dumps({"rows": [1, 2]}))
    with pytest.raises(SpcsLlmError, match="list of mappings"):
        replay.load(tmp_path, "SHOW X")
