"""workers --min-instances 0 (walk pick1): the Model Registry's create_service defaults to min_instances=0,
the only way a registry service suspends itself when idle; the step refused it, so an office-hours
user could not record what deploy-registry's own summary recommends."""

from __future__ import annotations

import json

import pytest

from spcs_llm import plan_file
from spcs_llm.cli import main
from spcs_llm.registry.spec import Choices, build_spec


def run(capsys, *argv):
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else None)


@pytest.fixture()
def planned(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, _ = run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--max-model-len", "8192")
    assert code == 0
    assert run(capsys, "select", "--family", "GPU_NV_S")[0] == 0
    return tmp_path


def test_registry_records_min_instances_zero_and_says_what_it_means(capsys, planned):
    code, data = run(capsys, "workers", "--engine", "registry", "--min-instances", "0", "--max-instances", "1",
                     "--confirm")
    assert code == 0 and data["min_instances"] == 0 and data["max_instances"] == 1
    assert any("suspends the service after 30 minutes" in note for note in data["notes"])
    plan = plan_file.load("deployment.yaml")
    assert plan_file.get(plan, "workers.min_instances") == 0
    spec = build_spec(plan, str(planned / "deployment.yaml"),
                      Choices(database="LLM_DB", schema="SERVING", compute_pool="P", service="S"))
    assert spec.min_instances == 0


def test_min_zero_without_max_still_serves_one_instance(capsys, planned):
    code, data = run(capsys, "workers", "--engine", "registry", "--min-instances", "0")
    assert code == 0 and data["min_instances"] == 0 and data["max_instances"] >= 1


def test_custom_image_keeps_at_least_one_instance(capsys, planned):
    code = main(["workers", "--engine", "custom-image", "--min-instances", "0"])
    assert code == 2
    assert "min 0" in capsys.readouterr().err


def test_deploy_summary_names_the_command_that_sets_min_zero():
    from spcs_llm.steps.deploy_registry import idle_note

    text = idle_note({"min_instances": 1, "ingress_enabled": False}, 3.5)
    assert "workers --engine registry --min-instances 0 --confirm" in text
