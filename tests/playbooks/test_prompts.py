"""Each checkpoint template renders from the real --json payload of the step that uses it, and
says what the checkpoint needs (the question, the numbers, the num_workers explanation)."""

from __future__ import annotations

import json
import re

import pytest

from spcs_llm.cli import main
from spcs_llm.prompts import PROMPTS_DIR, render_prompt

MODEL = "Qwen/Qwen2.5-7B-Instruct"
OWNED = ("model_shortlist", "hardware_choice", "num_workers_question", "plan_summary")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def step(capsys, *argv, expect=0) -> dict:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == expect, out
    return json.loads(out)


def prompt(capsys, *argv, expect=0) -> str:
    code = main([*argv, "--format", "prompt"])
    out = capsys.readouterr().out
    assert code == expect, out
    return out


def planned(capsys, *extra):
    return step(capsys, "plan", "--model", MODEL, "--cloud", "aws", "--max-model-len", "8192", *extra)


def test_templates_exist_for_the_checkpoints_this_pack_owns():
    for name in OWNED:
        assert (PROMPTS_DIR / f"{name}.j2").is_file(), name


def test_model_shortlist(workdir, capsys):
    data = step(capsys, "models", "--task", "chat", "--max-params-b", "16", "--cloud", "aws")
    text = render_prompt("model_shortlist", **data)
    ids = [m["id"] for m in data["models"]]
    assert MODEL in text and all(m in text for m in ids[:15])
    default = re.search(r"default: (\S+), the largest", text).group(1)
    # the default is a base model: a pre-quantized checkpoint is offered by the plan, not the shortlist
    fitting = [m for m in data["models"] if m["cheapest_family"] and not m["gated"] and not m["base_model"]]
    cheapest = min(m["cheapest_credits_per_hour"] for m in fitting)
    best = max((m for m in fitting if m["cheapest_credits_per_hour"] == cheapest), key=lambda m: m["params_b"])
    assert default == best["id"]
    assert text.rstrip().endswith("or name any other Hugging Face model.")
    if len(ids) > 15:
        assert f"{len(ids) - 15} more match" in text


def test_model_shortlist_warns_about_gated_models_without_asking_for_the_token(workdir, capsys):
    data = step(capsys, "models", "--cloud", "aws")
    if not any(m["gated"] for m in data["models"]):
        pytest.skip("no gated model in the catalog")
    text = render_prompt("model_shortlist", **data)
    assert "Snowflake SECRET" in text and "never the token itself" in text  # walk reg1: where the deployment reads it


def test_hardware_choice_lists_fitting_families_with_tp_replicas_and_cost(workdir, capsys):
    data = planned(capsys)
    text = prompt(capsys, "plan", "--model", MODEL, "--cloud", "aws", "--max-model-len", "8192", "--no-write")
    rec = data["recommendation"]
    assert f"| {rec['instance_family']} ({rec['cloud']}) (recommended) |" in text
    fitting = [c for c in data["candidates"] if c["fits"]]
    for c in fitting[:8]:
        row = next(line for line in text.splitlines() if line.startswith(f"| {c['rank']} | {c['instance_family']}"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[4] == f"{c['tensor_parallel_size']} x {c['replicas_per_node']}"
        assert cells[7] == str(c["credits_per_hour_for_layout"])  # the billed nodes of this layout
        # speed and cost per token, as in the text output
        assert cells[8] == str(c["est_decode_tokens_per_s_single_stream"]) and float(cells[8]) > 0
        assert cells[10] == str(c["credits_per_million_output_tokens"])
    assert "TP x replicas per node = GPUs per node" in text
    assert f"Deploys: **{rec['model_id']}**" in text
    assert f"default: {rec['instance_family']}" in text


def test_hardware_choice_when_nothing_fits_asks_what_to_change(workdir, capsys):
    data = step(capsys, "plan", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--cloud", "aws", "--region",
                "cn-northwest-1", "--no-write", expect=1)
    assert data["recommendation"] is None
    text = render_prompt("hardware_choice", **data)
    assert "No instance family on aws fits" in text and "What would fit:" in text
    assert "Which change should I make" in text


def test_num_workers_question_gpu_vllm(workdir, capsys):
    planned(capsys)
    step(capsys, "select", "--family", "GPU_NV_M")
    data = step(capsys, "workers", "--engine", "registry", "--min-instances", "1", "--max-instances", "2")
    text = render_prompt("num_workers_question", **data)
    tp, replicas = data["tensor_parallel_size"], data["replicas_per_node"]
    # 2 instances at TP=1 leave 2 of the node's 4 GPUs idle: said, with the count that costs the same
    assert "2 billed GPU(s) would sit idle" in text and "4 instance(s) cost the same as 2" in text
    assert f"TP x replicas = GPUs per node: {tp} x {replicas} = 4" in text
    assert "continuous batching" in text and "num_workers = 1 (left unset" in text
    assert "No Snowflake source gives num_workers a meaning for the vLLM engine" in text
    assert "Instances: 1 to 2" in text and "Keep num_workers = 1 (unset)" in text
    assert text.count("TP x replicas") == 1  # the step's own note is not repeated


def test_num_workers_question_python_server_on_cpu(workdir, capsys):
    planned(capsys)
    data = step(capsys, "workers", "--engine", "registry", "--server", "python", "--family", "CPU_X64_M")
    text = render_prompt("num_workers_question", **data)
    assert "CPU pool" in text and "2 x vCPU + 1" in text
    assert "separate copy of the model" in text
    assert "the num_workers you want" in text


def test_num_workers_question_python_server_on_gpu(workdir, capsys):
    planned(capsys)
    step(capsys, "select", "--family", "GPU_NV_M")
    data = step(capsys, "workers", "--engine", "registry", "--server", "python")
    text = render_prompt("num_workers_question", **data)
    assert "spread evenly over the instance's GPUs" in text
    assert f"gpu_requests = {data['gpu_requests']}" in text


def test_plan_summary_before_and_after_the_checkpoints(workdir, capsys):
    planned(capsys)
    text = prompt(capsys, "show")
    assert "proposed, not confirmed" in text and "num_workers checkpoint not answered yet" in text
    assert text.rstrip().endswith("Proceed?")
    step(capsys, "select", "--family", "GPU_NV_M", "--tp", "1")
    step(capsys, "workers", "--engine", "registry", "--max-instances", "6", "--confirm")
    data = step(capsys, "show")
    text = render_prompt("plan_summary", **data)
    credits = data["selection"]["credits_per_hour"]
    # 6 instances at 4 replicas per node need 2 nodes
    assert f"up to 2 node(s) = {round(credits * 2, 2)} credits/h" in text
    assert "Hardware (confirmed)" in text and "Workers (confirmed)" in text


def test_every_template_compiles():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(PROMPTS_DIR)))
    templates = sorted(PROMPTS_DIR.glob("*.j2"))
    assert len(templates) >= 10  # one per checkpoint question or summary
    for path in templates:
        env.get_template(path.name)  # raises on a syntax error
