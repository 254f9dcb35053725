"""Bad input is a clear one-line error with exit 2, never a traceback or a silently wrong size
(issue 9 §2): config.json fields, hand-edited plan lists, float flags, --max-model-len, --region,
output paths; unexpected errors map to exit 3 with --debug showing the traceback."""

from __future__ import annotations

import json

import pytest

from spcs_llm import cli, plan_file
from spcs_llm.models import from_config

BASE = {"architectures": ["Qwen2ForCausalLM"], "num_hidden_layers": 28, "hidden_size": 3584,
        "num_attention_heads": 28, "num_key_value_heads": 4, "intermediate_size": 18944, "vocab_size": 152064,
        "max_position_embeddings": 32768, "torch_dtype": "bfloat16"}


def _run(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("field", "value", "says"), [
    ("hidden_size", "big", "'hidden_size' must be a whole number >= 1, got 'big'"),
    ("hidden_size", -3584, "'hidden_size' must be a whole number >= 1, got -3584"),
    ("num_hidden_layers", float("nan"), "'num_hidden_layers' must be a whole number >= 1, got nan"),
    ("vocab_size", True, "'vocab_size' must be a whole number >= 1, got True"),
    ("quantization_config", "yes", "'quantization_config' must be an object, got 'yes'"),
    ("torch_dtype", "int4", "'torch_dtype' 'int4' is not a checkpoint dtype"),
    ("text_config", [1], "'text_config' must be an object"),
    ("layer_types", "full", "'layer_types' must be a list of names"),
    ("num_experts", -1, "'num_experts' must be a whole number >= 0"),
])
def test_config_fields_are_validated(field, value, says, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**BASE, field: value}))
    code, _, err = _run(capsys, "size", "--model", str(tmp_path / "config.json"), "--gpu", "A10G")
    assert code == 2, err
    assert says in err and "Traceback" not in err


def test_a_valid_config_still_sizes_and_whole_floats_are_accepted():
    spec = from_config({**BASE, "max_position_embeddings": 32768.0}, model_id="m", source="config")
    assert spec.max_position_embeddings == 32768 and spec.dtype == "bfloat16"


@pytest.mark.parametrize(("edit", "says"), [
    (lambda p: p.update(candidates=["GPU_NV_S"]), "'candidates' item 1 must be a mapping"),
    (lambda p: p["candidates"][0].pop("tensor_parallel_size"), "'candidates' item 1 fits but has no "
                                                               "'tensor_parallel_size'"),
    (lambda p: p["candidates"][0].update(credits_per_hour=float("inf")), "'credits_per_hour' must be"),
    (lambda p: p.update(history=["a", 1]), "'history' item 1 must be a mapping"),
    (lambda p: p.setdefault("snowflake", {}).update(live_families=["GPU_NV_S"]),
     "'snowflake.live_families' item 1 must be a mapping"),
    (lambda p: p.setdefault("snowflake", {}).update(live_families=[{"gpu": "A10G"}]),
     "'snowflake.live_families' item 1 has no 'name'"),
    (lambda p: p["selection"].update(vllm_args=["--x", 3]), "'selection.vllm_args' item 2 must be non-empty text"),
    (lambda p: p["selection"].update(gpu_memory_utilization=float("nan")), "must be a finite number"),
])
def test_hand_broken_plan_lists_are_refused_by_every_step(edit, says, tmp_path, capsys, monkeypatch):
    import yaml

    monkeypatch.chdir(tmp_path)
    assert _run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct")[0] == 0
    plan = yaml.safe_load((tmp_path / "deployment.yaml").read_text())
    edit(plan)
    (tmp_path / "deployment.yaml").write_text(yaml.safe_dump(plan))
    for step in (["workers", "--engine", "registry"], ["show"], ["select", "--family", "GPU_NV_M"]):
        code, _, err = _run(capsys, *step)
        assert code == 2 and says in err and "Traceback" not in err, (step, err)


@pytest.mark.parametrize(("argv", "says"), [
    (["size", "--model", "Qwen/Qwen2.5-7B-Instruct", "--gpu", "A10G", "--gpu-memory-gib", "nan"],
     "must be a finite number"),
    (["size", "--model", "Qwen/Qwen2.5-7B-Instruct", "--gpu", "A10G", "--gpu-memory-utilization", "inf"],
     "must be a finite number"),
    (["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--max-model-len", "1", "--no-write"], "must be at least 256"),
    (["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--region", "mars-1", "--no-write"],
     "'mars-1' is not a known region"),
])
def test_flags_are_checked_for_every_step(argv, says, capsys):
    code, _, err = _run(capsys, *argv)
    assert code == 2 and says in err and "Traceback" not in err


def test_known_regions_pass(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for region in ("cn-northwest-1", "AWS_US_WEST_2", "PUBLIC.AZURE_EASTUS2", "gcp_us_central1", "us-central1",
                   "Central US", "East US 2"):
        code = _run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--region", region, "--no-write")[0]
        assert code in (0, 1)


def test_out_into_a_missing_folder_is_refused_and_creates_nothing(tmp_path, capsys):
    target = tmp_path / "missing" / "dir" / "p.yaml"
    code, _, err = _run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--out", str(target))
    assert code == 2 and "does not exist" in err
    assert not (tmp_path / "missing").exists()


def test_unwritable_out_is_a_clear_error(tmp_path, capsys):
    code, _, err = _run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--out", str(tmp_path), "--force")
    assert code == 2 and f"cannot write {tmp_path}" in err and "Traceback" not in err


def test_unexpected_errors_are_one_line_exit_3_and_debug_shows_the_traceback(capsys, monkeypatch):
    from spcs_llm.steps import models as models_step

    def boom(args):
        raise KeyError("oops")

    monkeypatch.setattr(models_step, "run", boom)
    code, _, err = _run(capsys, "models")
    assert code == 3 and "Traceback" not in err
    assert err.splitlines()[0] == "error: models: unexpected KeyError: 'oops'"
    code, _, err = _run(capsys, "models", "--debug")
    assert code == 3 and "Traceback" in err and "KeyError" in err
    monkeypatch.setenv("SPCS_LLM_DEBUG", "1")
    code, _, err = _run(capsys, "models")
    assert code == 3 and "Traceback" in err


def test_os_errors_name_the_path(capsys, monkeypatch):
    from spcs_llm.steps import models as models_step

    def unreadable(args):
        raise PermissionError(13, "Permission denied", "/some/file")

    monkeypatch.setattr(models_step, "run", unreadable)
    code, out, err = _run(capsys, "models", "--json")
    assert code == 3 and "cannot use /some/file: Permission denied" in err
    assert json.loads(out)["exit_code"] == 3


def test_plan_file_validation_lists_item_problems():
    plan = plan_file.new_plan("t")
    plan["model"] = {"id": "m"}
    plan["candidates"] = [{"instance_family": "GPU_NV_S", "fits": "yes"}]
    assert plan_file.validate(plan) == ["'candidates' item 1: 'fits' must be true/false, got 'yes'"]


def test_a_plan_path_that_is_a_folder_or_binary_is_a_clear_exit_2(tmp_path, capsys):
    code, _, err = _run(capsys, "show", "--plan", str(tmp_path))
    assert code == 2 and "cannot read plan file" in err and "Is a directory" in err
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    code, _, err = _run(capsys, "show", "--plan", str(tmp_path / "bin.yaml"))
    assert code == 2 and "cannot read plan file" in err


def test_an_azure_region_the_catalog_does_not_name_keeps_every_family(capsys, tmp_path, monkeypatch):
    """walk oom1: 'East US 2' was refused; only the five Azure names in exclusion lists passed."""
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "plan", "--model", "openai/gpt-oss-120b", "--cloud", "azure", "--region", "East US 2",
                        "--no-write")
    assert code == 0 and "GPU_NV_3M" in out
