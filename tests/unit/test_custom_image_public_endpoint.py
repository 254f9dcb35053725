"""render-custom --public-endpoint: recorded in the plan, rendered as a public endpoint with a service role."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from snowflake_testkit import prepare_offline

from spcs_llm import cli, plan_file

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "custom_image" / "tp1_gpu_nv_s"


def test_flag_records_the_choice_and_renders_the_service_role(monkeypatch, tmp_path, capsys):
    prepare_offline(monkeypatch, tmp_path)
    shutil.copy(GOLDEN / "plan.yaml", tmp_path / "deployment.yaml")
    assert cli.main(["render-custom", "--public-endpoint", "--json"]) == 0
    capsys.readouterr()
    assert plan_file.get(plan_file.load(tmp_path / "deployment.yaml"), "custom_image.public_endpoint") is True
    spec = yaml.safe_load((tmp_path / "custom-image" / "service_spec.yaml").read_text())
    assert spec["spec"]["endpoints"][0]["public"] is True
    assert spec["serviceRoles"][0]["endpoints"] == [spec["spec"]["endpoints"][0]["name"]]
    assert cli.main(["render-custom", "--no-public-endpoint", "--json"]) == 0
    json.loads(capsys.readouterr().out)
    spec = yaml.safe_load((tmp_path / "custom-image" / "service_spec.yaml").read_text())
    assert spec["spec"]["endpoints"][0]["public"] is False and "serviceRoles" not in spec


def test_summary_says_whether_the_endpoint_is_public(monkeypatch, tmp_path, capsys):
    """The upgrade for REST changes only this; the checkpoint table must show it (walk gw1: it did not)."""
    prepare_offline(monkeypatch, tmp_path)
    shutil.copy(GOLDEN / "plan.yaml", tmp_path / "deployment.yaml")
    assert cli.main(["render-custom", "--format", "prompt"]) == 0
    assert "| Public endpoint | no: SQL function only |" in capsys.readouterr().out
    assert cli.main(["render-custom", "--public-endpoint", "--format", "prompt"]) == 0
    assert "| Public endpoint | yes: REST and OpenAI clients through the ingress |" in capsys.readouterr().out
    assert cli.main(["render-custom"]) == 0
    assert "endpoint   public: REST and OpenAI clients" in capsys.readouterr().out
