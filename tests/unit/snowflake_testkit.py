"""Shared helpers for the account-step tests: replayed scenarios, a small plan, running a step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from spcs_llm import cli, plan_file
from spcs_llm.snowflake import replay
from spcs_llm.snowflake import session as session_module

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"


def forbid_login(monkeypatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("a step tried to log in to Snowflake")

    monkeypatch.setattr(session_module, "connect", refuse)
    monkeypatch.setattr(session_module, "snowpark_session", refuse)


def use_scenarios(monkeypatch, tmp_path: Path, *names: str) -> Path:
    """Replay from the named scenario folders (later ones override earlier files)."""
    target = tmp_path / "replay"
    target.mkdir(exist_ok=True)
    for name in names:
        for file in (RECORDED / name).glob("*.json"):
            shutil.copy(file, target / file.name)
    monkeypatch.setenv(replay.ENV_REPLAY_DIR, str(target))
    return target


def prepare_offline(monkeypatch, tmp_path: Path) -> Path:
    """No login possible, no user config, no replay unless a test adds one; work in tmp_path."""
    forbid_login(monkeypatch)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path / "snowflake-home"))
    (tmp_path / "snowflake-home").mkdir()
    for var in (replay.ENV_REPLAY_DIR, replay.ENV_RECORD_DIR, "SPCS_LLM_STATEMENT_LOG", "SNOWFLAKE_PAT",
                "SNOWFLAKE_DEFAULT_CONNECTION_NAME", "SNOWFLAKE_CONNECTION_NAME", "SNOWFLAKE_CONNECTIONS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def candidate(family: str, gpu: str, count: int, mem: float, fits: bool, tp: int | None, credits: float) -> dict:
    return {"instance_family": family, "cloud": "aws", "gpu": gpu, "gpu_count": count, "gpu_memory_gib": mem,
            "node_vcpu": 44, "node_memory_gib": 178, "credits_per_hour": credits, "fits": fits,
            "tensor_parallel_size": tp, "replicas_per_node": (count // tp) if tp else 0,
            "reason": "fits with headroom" if fits else "rejected: weights do not fit", "options": []}


def write_plan(path: Path, **fields) -> Path:
    plan = plan_file.new_plan("test")
    plan["model"] = {"id": "Qwen/Qwen2.5-7B-Instruct"}
    plan["candidates"] = [
        candidate("GPU_NV_M", "A10G", 4, 24, True, 1, 2.68),
        candidate("GPU_NV_S", "A10G", 1, 24, True, 1, 0.57),
        candidate("GPU_NV_L", "A100-40GB", 8, 40, True, 1, 14.12),
    ]
    plan["selection"] = {"instance_family": "GPU_NV_M", "gpu": "A10G", "gpu_count": 4, "tensor_parallel_size": 1,
                         "replicas_per_node": 4, "credits_per_hour": 2.68, "confirmed": True}
    for dotted, value in fields.items():
        plan_file.update(plan, "test", {dotted.replace("__", "."): value})
    plan_file.save(plan, path)
    return path


def run_step(capsys, *argv: str) -> tuple[int, dict, str]:
    """Run `spcs-llm <argv> --json`; returns (exit code, JSON payload, stderr)."""
    code = cli.main([*argv, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def run_text(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err
