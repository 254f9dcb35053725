"""Walk pick1: 100 claim letters a minute, ~16 in flight of ~1,700 tokens, 8192 context, Azure West
Europe. select-model must tell the assistant to pass full-length equivalents, and the figures it
quotes must be what the planner does (16 full-length requests bill three GPU_NV_2M nodes, 4 bill one)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from spcs_llm.cli import main

SELECT_MODEL = Path(__file__).resolve().parents[2] / "skills" / "spcs-llm" / "select-model" / "SKILL.md"


def _recommended(capsys, tmp_path, monkeypatch, concurrency: int) -> dict:
    monkeypatch.chdir(tmp_path)
    code = main(["plan", "--model", "Qwen/Qwen2.5-14B-Instruct", "--cloud", "azure", "--region", "West Europe",
                 "--max-model-len", "8192", "--concurrency", str(concurrency), "--no-write", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    return data["candidates"][0]


def test_select_model_converts_in_flight_requests_to_full_length_equivalents():
    text = SELECT_MODEL.read_text()
    assert "in-flight x typical tokens" in text and "16 letters of 1,700" in text
    assert "A rate (requests per" in text
    assert math.ceil(16 * 1700 / 8192) == 4


def test_the_quoted_example_is_what_the_planner_bills(capsys, tmp_path, monkeypatch):
    as_letters = _recommended(capsys, tmp_path, monkeypatch, 16)
    as_full_length = _recommended(capsys, tmp_path, monkeypatch, 4)
    assert as_letters["instance_family"] == as_full_length["instance_family"] == "GPU_NV_2M"
    assert (as_letters["nodes"], as_full_length["nodes"]) == (3, 1)


def _prompt(capsys, concurrency: int) -> str:
    main(["plan", "--model", "Qwen/Qwen2.5-14B-Instruct", "--cloud", "azure", "--region", "West Europe",
          "--max-model-len", "8192", "--concurrency", str(concurrency), "--no-write", "--format", "prompt"])
    return capsys.readouterr().out


def test_a_cheaper_family_available_on_request_is_named(capsys, tmp_path, monkeypatch):
    # 16 full-length requests: 3 GPU_NV_2M nodes (10.5 credits/h) are recommended while one GPU_NV_3M node
    # (3.55 credits/h, on request) holds them all; the user must hear of it
    monkeypatch.chdir(tmp_path)
    text = _prompt(capsys, 16)
    assert "Cheaper once Snowflake enables it: **GPU_NV_3M**, 3.55 credits/h for 1 node(s) instead of 10.5" in text
    # at 4 the recommended node is already cheaper: nothing to add
    assert "Cheaper once Snowflake enables it" not in _prompt(capsys, 4)


def test_choose_hardware_offers_min_instances_zero_and_the_step_takes_it(capsys, tmp_path, monkeypatch):
    text = (SELECT_MODEL.parents[1] / "choose-hardware" / "SKILL.md").read_text()
    assert "`--min-instances 0`" in text and "office hours" in text
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--max-model-len", "8192"]) == 0
    assert main(["select", "--family", "GPU_NV_S"]) == 0
    capsys.readouterr()
    assert main(["workers", "--engine", "registry", "--min-instances", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["min_instances"] == 0
