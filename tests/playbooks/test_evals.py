"""The assistant evals are well formed, and the plan files they start from can be made."""

from __future__ import annotations

import json
import subprocess

from spcs_llm import PACK_ROOT, plan_file

from .conftest import isolated_env

EVALS = PACK_ROOT / "evals"


def test_evals_follow_the_agent_skills_format():
    data = json.loads((EVALS / "evals.json").read_text())
    assert data["skill_name"] == "spcs-llm"
    evals = data["evals"]
    assert len(evals) >= 12
    assert len({e["id"] for e in evals}) == len(evals)
    for item in evals:
        assert set(item) >= {"id", "prompt", "expected_output", "files", "assertions"}, item["id"]
        assert item["prompt"].strip() and item["expected_output"].strip()
        assert len(item["assertions"]) >= 3 and all(a.strip() for a in item["assertions"])


def test_trigger_queries_balance_triggers_and_near_misses():
    queries = json.loads((EVALS / "trigger_queries.json").read_text())["queries"]
    assert 18 <= len(queries) <= 25
    positive = sum(q["should_trigger"] for q in queries)
    assert 8 <= positive <= len(queries) - 8
    assert len({q["query"] for q in queries}) == len(queries)


def test_eval_files_are_generated_as_valid_plans(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    out = tmp_path / "files"
    proc = subprocess.run(["bash", str(EVALS / "files/make.sh"), str(out)], env=isolated_env(home),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = {f for e in json.loads((EVALS / "evals.json").read_text())["evals"] for f in e["files"]}
    assert listed
    for rel in listed:
        plan = plan_file.load(out / rel.removeprefix("files/"))
        assert plan["model"]["id"]
    assert plan_file.load(out / "hardware-confirmed.yaml")["selection"]["confirmed"] is True
    assert "workers" not in plan_file.load(out / "hardware-confirmed.yaml")
    assert plan_file.load(out / "vllm-confirmed.yaml")["workers"]["confirmed"] is True
