"""deployment.yaml: validated on load and save, atomic writes, clear errors for hand-broken files."""

from __future__ import annotations

import pytest

from spcs_llm import plan_file
from spcs_llm.errors import SpcsLlmError


def minimal() -> dict:
    plan = plan_file.new_plan("test")
    plan_file.update(plan, "test", {"model.id": "Qwen/Qwen2.5-7B-Instruct", "request.cloud": "aws"})
    return plan


def test_round_trip(tmp_path):
    path = tmp_path / "deployment.yaml"
    plan_file.save(minimal(), path)
    loaded = plan_file.load(path)
    assert loaded["model"]["id"] == "Qwen/Qwen2.5-7B-Instruct"
    assert loaded["version"] == plan_file.PLAN_VERSION
    assert loaded["history"][0]["step"] == "test"


def test_missing_file_points_to_plan(tmp_path):
    with pytest.raises(SpcsLlmError, match="does not exist") as err:
        plan_file.load(tmp_path / "nope.yaml")
    assert "spcs-llm plan" in err.value.hint


def test_broken_yaml_names_the_line(tmp_path):
    path = tmp_path / "deployment.yaml"
    path.write_text("version: 1\nmodel:\n  id: [unclosed\n")
    with pytest.raises(SpcsLlmError, match="not valid YAML at line"):
        plan_file.load(path)


def test_every_problem_is_listed(tmp_path):
    path = tmp_path / "deployment.yaml"
    path.write_text("version: 2\nmodel: {idd: x}\nselection: {tensor_parallel_size: two}\n"
                    "request: {cloud: oracle}\nengine_path: docker\n")
    with pytest.raises(SpcsLlmError) as err:
        plan_file.load(path)
    text = str(err.value)
    for expected in ("unknown field 'model.idd'", "'selection.tensor_parallel_size' must be an integer",
                     "'model.id' is missing", "reads version 1", "'request.cloud' 'oracle'",
                     "'engine_path' 'docker'"):
        assert expected in text


def test_boolean_is_not_accepted_as_a_number():
    plan = minimal()
    plan["selection"] = {"tensor_parallel_size": True}
    assert any("got a boolean" in e for e in plan_file.validate(plan))


def test_top_level_must_be_a_mapping():
    assert plan_file.validate(["a"]) == ["the plan must be a YAML mapping at the top level"]


def test_update_refuses_unknown_fields():
    with pytest.raises(SpcsLlmError, match="unknown plan field"):
        plan_file.update(minimal(), "x", {"selection.nonsense": 1})


def test_invalid_plan_is_never_written(tmp_path):
    path = tmp_path / "deployment.yaml"
    plan_file.save(minimal(), path)
    before = path.read_text()
    bad = minimal()
    bad["model"]["id"] = 42
    with pytest.raises(SpcsLlmError):
        plan_file.save(bad, path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["deployment.yaml"]  # no temp file left behind


def test_require_names_the_step_that_sets_a_field():
    with pytest.raises(SpcsLlmError) as err:
        plan_file.require(minimal(), "selection.instance_family", "spcs-llm select")
    assert "spcs-llm select" in err.value.hint


def test_repeated_values_are_written_in_full(tmp_path):
    plan = minimal()
    args = ["--tensor-parallel-size=1"]
    candidates = [{"instance_family": "GPU_NV_S", "fits": False, "vllm_args": args}]
    plan_file.update(plan, "test", {"selection.vllm_args": args, "candidates": candidates})
    path = plan_file.save(plan, tmp_path / "deployment.yaml")
    assert "&id" not in path.read_text() and "*id" not in path.read_text()
