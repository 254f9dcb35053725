"""The offline steps end to end through the CLI: plan -> select -> workers -> show, size, models,
and how a model reference is resolved (catalog, local config.json, hub or mirror)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from spcs_llm import plan_file
from spcs_llm.cli import main

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "qwen2.5-7b-instruct.json"


def run(capsys, *argv) -> tuple[int, dict | str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    out = captured.out
    run.last_err = captured.err
    try:
        return code, json.loads(out)
    except ValueError:
        return code, out


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


REQUIRED_CANDIDATE_KEYS = {"instance_family", "gpu", "tensor_parallel_size", "replicas_per_node", "fits",
                           "credits_per_hour", "est_decode_tokens_per_s", "vllm_args", "reason"}


@pytest.mark.parametrize("model", ["Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-70B-Instruct",
                                   "openai/gpt-oss-120b"])
def test_plan_ranks_and_explains_the_issue_models(capsys, workdir, model):
    code, data = run(capsys, "plan", "--model", model, "--json", "--no-write")
    assert code == 0
    assert data["recommendation"]["rank"] == 1 and data["recommendation"]["fits"]
    for c in data["candidates"]:
        assert REQUIRED_CANDIDATE_KEYS <= set(c)
        assert c["reason"]
    fitting = [c for c in data["candidates"] if c["fits"]]
    assert all(c["fits"] for c in data["candidates"][: len(fitting)])  # fitting families come first


def test_plan_of_70b_needs_multi_gpu_families(capsys, workdir):
    code, data = run(capsys, "plan", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--cloud", "aws",
                     "--max-model-len", "8192", "--json", "--no-write")
    assert code == 0
    for c in data["candidates"]:
        if c["fits"] and not c["substitute"]:
            assert c["gpu_count"] * (c["gpu_memory_gib"] or 0) >= 140  # 141 GB of bf16 weights
        if c["fits"] and c["substitute"]:  # a smaller family serves a published 4-bit or FP8 checkpoint
            assert c["model_id"] != "meta-llama/Llama-3.1-70B-Instruct" and c["checkpoint_quantization"]
        if c["gpu_count"] == 1 and c["gpu"] == "A10G":
            assert not c["fits"]


def test_plan_writes_the_plan_and_refuses_to_overwrite(capsys, workdir):
    code, data = run(capsys, "plan", "--model", str(CONFIG), "--cloud", "aws", "--json")
    assert code == 0 and data["plan_path"] == "deployment.yaml"
    plan = plan_file.load(workdir / "deployment.yaml")
    assert plan["model"]["source"] == "config"
    assert plan["selection"]["instance_family"] == data["recommendation"]["instance_family"]
    assert plan["selection"]["confirmed"] is False
    code, _ = run(capsys, "plan", "--model", str(CONFIG), "--cloud", "aws")
    assert code == 2 and "already exists" in run.last_err
    code, _ = run(capsys, "plan", "--model", str(CONFIG), "--cloud", "aws", "--force", "--json")
    assert code == 0


def test_select_workers_show_flow(capsys, workdir):
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--json")
    code, sel = run(capsys, "select", "--family", "GPU_NV_M", "--json")
    assert code == 0 and sel["confirmed"] and sel["instance_family"] == "GPU_NV_M"
    assert sel["tensor_parallel_size"] * sel["replicas_per_node"] == 4

    code, proposal = run(capsys, "workers", "--engine", "registry", "--json")
    assert code == 0 and not proposal["confirmed"]
    assert proposal["gpu_requests"] == sel["tensor_parallel_size"] and proposal["num_workers"] == 1
    assert "workers" not in plan_file.load(workdir / "deployment.yaml")  # proposing writes nothing

    code, _ = run(capsys, "workers", "--engine", "registry", "--num-workers", "4", "--json")
    assert code == 2  # num_workers > 1 has no meaning for vLLM

    code, answer = run(capsys, "workers", "--engine", "registry", "--max-instances", "3", "--confirm", "--json")
    assert code == 0 and answer["nodes_needed"] == -(-3 // sel["replicas_per_node"])
    plan = plan_file.load(workdir / "deployment.yaml")
    assert plan["workers"]["confirmed"] and plan["engine_path"] == "registry"

    code, state = run(capsys, "show", "--json")
    assert code == 0 and "preflight" in state["next_step"]
    assert [h["step"] for h in plan["history"]] == ["plan", "select", "workers"]


def test_select_refuses_what_the_plan_did_not_evaluate(capsys, workdir):
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--json")
    assert run(capsys, "select", "--family", "GPU_NV_XS")[0] == 2  # an Azure family
    assert "not among the plan's candidates" in run.last_err
    assert run(capsys, "select", "--family", "GPU_NV_M", "--tp", "3")[0] == 2
    assert "allowed: 1, 2, 4" in run.last_err


def test_select_refuses_a_family_that_does_not_fit(capsys, workdir):
    run(capsys, "plan", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--cloud", "aws", "--max-model-len",
        "8192", "--json")
    assert run(capsys, "select", "--family", "GPU_NV_S")[0] == 1


def test_workers_python_server_counts_model_copies(capsys, workdir):
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-0.5B-Instruct", "--cloud", "aws", "--json")
    run(capsys, "select", "--family", "GPU_NV_M")
    code, data = run(capsys, "workers", "--engine", "registry", "--server", "python", "--num-workers", "8", "--json")
    assert code == 0 and data["num_workers"] == 8
    code, _ = run(capsys, "workers", "--engine", "registry", "--server", "python", "--num-workers", "500")
    assert code == 2


def test_size_json_schema_and_exit_codes(capsys, workdir):
    code, data = run(capsys, "size", "--model", "Qwen/Qwen2.5-7B-Instruct", "--gpu", "A10G", "--tp", "1",
                     "--gpu-memory-utilization", "0.9", "--max-model-len", "8192", "--json")
    assert code == 0
    assert {"weights_gib_per_gpu", "kv_cache_gib_per_gpu", "kv_cache_tokens", "max_concurrency", "fits",
            "reasons"} <= set(data)
    assert data["fits"] is True
    code, data = run(capsys, "size", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--gpu", "A10G", "--json")
    assert code == 1 and data["fits"] is False and data["suggestions"]


def test_size_with_custom_gpu_memory(capsys, workdir):
    code, small = run(capsys, "size", "--model", "Qwen/Qwen2.5-7B-Instruct", "--gpu-memory-gib", "30",
                      "--max-model-len", "8192", "--json")
    code2, large = run(capsys, "size", "--model", "Qwen/Qwen2.5-7B-Instruct", "--gpu-memory-gib", "60",
                       "--max-model-len", "8192", "--json")
    assert code == code2 == 0 and large["kv_cache_tokens"] > small["kv_cache_tokens"]


def test_size_rejects_unknown_gpu_with_the_allowed_list(capsys, workdir):
    code = main(["size", "--model", "Qwen/Qwen2.5-7B-Instruct", "--gpu", "V100"])
    assert code == 2 and "A10G" in capsys.readouterr().err


def test_models_filters(capsys, workdir):
    code, data = run(capsys, "models", "--open", "--max-params-b", "10", "--licence", "apache", "--json")
    assert code == 0 and data["models"]
    for m in data["models"]:
        assert not m["gated"] and m["params_b"] <= 10 and "apache" in m["licence"].lower()
        assert m["cheapest_family"]
    code, _ = run(capsys, "models", "--family", "no-such-family")
    assert code == 1


def test_unknown_step_and_help(capsys):
    assert main(["frobnicate"]) == 2
    assert main(["--help"]) == 0
    assert "plan" in capsys.readouterr().out


# -- model references ------------------------------------------------------------------------------

class _Hub(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path == "/Org/Tiny/resolve/main/config.json":
            body = CONFIG.read_bytes()
            self.send_response(200)
        elif self.path.startswith("/Gated/"):
            body, _ = b"{}", self.send_response(401)
        else:
            body, _ = b"not found", self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def hub(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield
    server.shutdown()


def test_model_outside_catalog_comes_from_the_hub_or_mirror(capsys, workdir, hub):
    code, data = run(capsys, "size", "--model", "Org/Tiny", "--gpu", "A10G", "--max-model-len", "4096", "--json")
    assert code == 0 and data["model"] == "Org/Tiny" and data["kv_bytes_per_token"] == 57_344


def test_gated_and_missing_hub_models_have_clear_errors(capsys, workdir, hub):
    assert main(["size", "--model", "Gated/Model", "--gpu", "A10G"]) == 3
    assert "gated" in capsys.readouterr().err
    assert main(["size", "--model", "Org/Missing", "--gpu", "A10G"]) == 2
    assert "404" in capsys.readouterr().err


def test_offline_hub_error_says_what_to_do(capsys, workdir, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    assert main(["plan", "--model", "Org/Unknown", "--no-write"]) == 3
    err = capsys.readouterr().err
    assert "could not be fetched" in err and "config.json" in err


def test_hub_token_is_sent_but_never_printed(capsys, workdir, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 34)
    code, _ = run(capsys, "size", "--model", "Org/Tiny", "--gpu", "A10G", "--max-model-len", "4096")
    assert code == 0
    captured = capsys.readouterr()
    assert "x" * 34 not in captured.out + captured.err


def test_broken_local_config_is_reported(capsys, workdir):
    bad = workdir / "config.json"
    bad.write_text("{not json")
    assert main(["size", "--model", str(bad), "--gpu", "A10G"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    bad.write_text(json.dumps({"hidden_size": 10}))
    assert main(["size", "--model", str(bad), "--gpu", "A10G"]) == 2
    assert "lacks" in capsys.readouterr().err


def test_china_region_keeps_only_families_offered_there(capsys, workdir):
    code, data = run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--region", "cn-northwest-1",
                     "--max-model-len", "8192", "--json", "--no-write")
    assert code == 0 and data["request"]["cloud"] == "aws"
    assert {c["instance_family"] for c in data["candidates"]} == {"GPU_NV_S", "GPU_NV_M"}
    assert "unverified" in data["recommendation"]["reason"]


def test_snowflake_region_spelling_implies_the_cloud(capsys, workdir):
    code, data = run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--region", "AWS_US_WEST_2",
                     "--json", "--no-write")
    assert code == 0 and {c["cloud"] for c in data["candidates"]} == {"aws"}
    assert main(["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--region", "us-central1", "--cloud", "aws"]) == 2


def test_nothing_fits_says_what_would(capsys, workdir):
    code, data = run(capsys, "plan", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--region", "cn-northwest-1",
                     "--json")
    assert code == 1 and data["recommendation"] is None and data["plan_path"] is None
    # the catalog's AWQ checkpoint was sized too: it fits 4x A10G at a shorter context, which leads
    first = data["what_would_fit"][0]
    assert first.startswith("lower --max-model-len to") and "AWQ" in first
    assert int(first.split()[3].rstrip(":")) < 131072
    assert not (workdir / "deployment.yaml").exists()
    code, data = run(capsys, "plan", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--region", "cn-northwest-1",
                     "--quantization", "fp8", "--gpu-memory-utilization", "0.3", "--json", "--no-write")
    assert code == 1 and data["what_would_fit"][0].startswith("lower --max-model-len to")
    length = int(data["what_would_fit"][0].split()[3].rstrip(":"))
    assert length < 131072
    code, data = run(capsys, "plan", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--region", "cn-northwest-1",
                     "--quantization", "fp8", "--gpu-memory-utilization", "0.3", "--max-model-len", str(length),
                     "--json", "--no-write")
    assert code == 0  # the suggestion is right


def test_show_follows_the_engine_path(capsys, workdir):
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--json")
    run(capsys, "select", "--family", "GPU_NV_S")
    run(capsys, "workers", "--engine", "custom-image", "--confirm")
    plan = plan_file.load(workdir / "deployment.yaml")
    plan_file.update(plan, "test", {"snowflake.role": "DEPLOYER", "snowflake.compute_pool": "LLM_POOL",
                                    "snowflake.service_name": "QWEN_SVC"})
    plan_file.save(plan, workdir / "deployment.yaml")
    code, state = run(capsys, "show", "--json")
    assert code == 0 and "deploy-custom-image" in state["next_step"]
    assert state["done"] == ["selection.confirmed", "workers.confirmed", "snowflake.role", "snowflake.compute_pool",
                             "snowflake.service_name"]


def test_workers_leave_cpu_and_memory_headroom_per_node(capsys, workdir):
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--json")
    run(capsys, "select", "--family", "GPU_NV_M", "--tp", "2")
    code, data = run(capsys, "workers", "--engine", "custom-image", "--json")
    assert code == 0 and data["replicas_per_node"] == 2
    assert data["cpu_requests"] * 2 < data["node_vcpu"] and data["memory_requests_gib"] * 2 < data["node_memory_gib"]


def test_workers_default_instances_serve_the_planned_concurrency(capsys, workdir):
    run(capsys, "plan", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--cloud", "aws", "--region", "us-west-2",
        "--max-model-len", "32768", "--concurrency", "8", "--json")
    run(capsys, "select", "--family", "GPU_R6K_G1_48")
    plan = plan_file.load(workdir / "deployment.yaml")
    option = next(o for c in plan["candidates"] if c["instance_family"] == "GPU_R6K_G1_48" for o in c["options"]
                  if o["tensor_parallel_size"] == plan["selection"]["tensor_parallel_size"])
    code, data = run(capsys, "workers", "--engine", "registry", "--json")
    assert code == 0 and data["max_instances"] == -(-8 // option["max_concurrency"]) > 1
    code, data = run(capsys, "workers", "--engine", "registry", "--max-instances", "1", "--json")
    assert code == 0 and any("will queue" in n for n in data["notes"])


def test_replan_sizes_on_the_accounts_live_families_and_keeps_its_decisions(capsys, workdir):
    # a China account where GPU_NV_S reports a 16 GB T4 (what a third-party kit describes), not the A10G
    # the docs list: the live facts recorded by `spcs-llm pools` must win
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-14B-Instruct", "--region", "cn-northwest-1", "--max-model-len",
        "8192", "--json")
    plan = plan_file.load(workdir / "deployment.yaml")
    plan_file.update(plan, "pools", {
        "snowflake.compute_pool": "LLM_POOL",
        "snowflake.live_families": [
            {"name": "GPU_NV_S", "gpu": "NVIDIA T4", "gpu_count": 1, "gpu_memory_gib": 16, "vcpu": 6,
             "memory_gib": 27},
            {"name": "GPU_NV_M", "gpu": "NVIDIA A10G", "gpu_count": 4, "gpu_memory_gib": 24, "vcpu": 44,
             "memory_gib": 178}]})
    plan_file.save(plan, workdir / "deployment.yaml")
    code, data = run(capsys, "plan", "--replan", "--json")
    assert code == 0 and data["sized_on"] == "live" and data["request"]["max_model_len"] == 8192
    by_name = {c["instance_family"]: c for c in data["candidates"]}
    # the 16-bit weights do not fit the T4 (a 4-bit checkpoint may, ranked after the asked weights)
    assert by_name["GPU_NV_S"]["gpu"] == "T4"
    assert not by_name["GPU_NV_S"]["fits"] or by_name["GPU_NV_S"]["substitute"]
    assert data["recommendation"]["instance_family"] == "GPU_NV_M"
    replanned = plan_file.load(workdir / "deployment.yaml")
    assert replanned["snowflake"]["compute_pool"] == "LLM_POOL"
    assert replanned["selection"]["instance_family"] == "GPU_NV_M" and not replanned["selection"]["confirmed"]
    assert replanned["history"][-1]["step"] == "plan --replan"


def test_select_refuses_a_catalog_sizing_the_accounts_live_family_contradicts(capsys, workdir):
    # walk china1: pools recorded GPU_NV_S as a 16 GiB T4, the table was ranked live without writing,
    # and select recorded the catalog's A10G layout (its speed, memory and "1x A10G" summary)
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-14B-Instruct", "--region", "cn-northwest-1", "--max-model-len",
        "4096", "--priority", "cheapest", "--json")
    plan = plan_file.load(workdir / "deployment.yaml")
    plan_file.update(plan, "pools", {"snowflake.live_families": [
        {"name": "GPU_NV_S", "gpu": "NVIDIA T4", "gpu_count": 1, "gpu_memory_gib": 16, "vcpu": 6, "memory_gib": 27}]})
    plan_file.save(plan, workdir / "deployment.yaml")
    assert main(["select", "--family", "GPU_NV_S"]) == 2
    err = capsys.readouterr().err
    assert "16 here, 24 in the plan" in err and "spcs-llm plan --replan" in err
    assert plan_file.load(workdir / "deployment.yaml")["selection"]["confirmed"] is False
    code, data = run(capsys, "plan", "--replan", "--json")
    # the account listing the family settles its China availability: no "unverified" caveat
    assert code == 0 and "unverified" not in data["recommendation"]["reason"]
    code, data = run(capsys, "select", "--family", "GPU_NV_S", "--json")
    assert code == 0 and data["gpu"] == "T4" and data["node_memory_gib"] == 27


def test_a_family_the_account_does_not_offer_is_dropped(capsys, workdir):
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--json")
    plan = plan_file.load(workdir / "deployment.yaml")
    plan_file.update(plan, "pools", {"snowflake.live_families": [
        {"name": "GPU_NV_M", "gpu": "NVIDIA A10G", "gpu_count": 4, "gpu_memory_gib": 24, "vcpu": 44,
         "memory_gib": 178}]})
    plan_file.save(plan, workdir / "deployment.yaml")
    code, data = run(capsys, "plan", "--replan", "--json", "--no-write")
    assert code == 0 and [c["instance_family"] for c in data["candidates"]] == ["GPU_NV_M"]
    assert main(["plan", "--replan", "--out", "missing.yaml"]) == 2


@pytest.mark.parametrize("flag", [["--concurrency", "0"], ["--gpu-memory-utilization", "0"],
                                  ["--max-model-len", "0"], ["--gpu-memory-utilization", "1.5"]])
def test_zero_or_out_of_range_values_are_refused_not_defaulted(capsys, workdir, flag):
    assert main(["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--no-write", *flag]) == 2
    assert "must be" in capsys.readouterr().err


def _started_registry_plan(capsys, workdir, result: dict | None, pid: int) -> None:
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--json")
    run(capsys, "select", "--family", "GPU_NV_S")
    run(capsys, "workers", "--engine", "registry", "--confirm")
    result_path = workdir / "deploy.result.json"
    if result is not None:
        result_path.write_text(json.dumps(result))
    plan = plan_file.load(workdir / "deployment.yaml")
    # no preflight recorded: the user deployed with a plan whose account checks ran elsewhere
    plan_file.update(plan, "deploy-registry", {"registry.started_at": "2026-12-01T10:00:00+00:00",
                                               "registry.pid": pid, "registry.log_path": str(workdir / "deploy.log"),
                                               "registry.result_path": str(result_path)})
    plan_file.save(plan, workdir / "deployment.yaml")


def test_show_after_a_started_deployment_does_not_send_back_to_preflight(capsys, workdir):
    _started_registry_plan(capsys, workdir, {"status": "deployed", "phase": "describe"}, pid=2**22 + 7)
    code, state = run(capsys, "show", "--json")
    assert code == 0 and "preflight" not in state["next_step"]
    assert state["registry_deployment"]["status"] == "deployed"
    assert "status --wait" in state["next_step"]
    # it finished: not "the deployment script was started" (walk rest1), and REST is named
    assert state["next_step"].startswith("deployed:") and "rest-access" in state["next_step"]


def test_show_reports_a_failed_background_deployment(capsys, workdir):
    _started_registry_plan(capsys, workdir, {"status": "failed", "phase": "register",
                                             "error": "secret HF_TOKEN does not exist"}, pid=2**22 + 7)
    code, text = run(capsys, "show")
    assert code == 0
    assert "registry deployment: failed (phase register)" in text
    assert "failed in phase register: secret HF_TOKEN does not exist" in text


def test_show_reports_a_script_that_died_without_an_outcome(capsys, workdir):
    _started_registry_plan(capsys, workdir, None, pid=2**22 + 7)  # no such process, no result file
    _, state = run(capsys, "show", "--json")
    assert state["registry_deployment"]["status"] == "stopped"
    assert "no longer running" in state["next_step"]


def test_show_custom_image_after_the_service_runs_skips_a_push_made_elsewhere(capsys, workdir):
    """Walk china1: the image was pushed from another machine, so this plan never recorded the push;
    once the service part ran here, `show` must not send the user back to build and push."""
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--json")
    run(capsys, "select", "--family", "GPU_NV_S")
    run(capsys, "workers", "--engine", "custom-image", "--confirm")
    plan = plan_file.load(workdir / "deployment.yaml")
    plan_file.update(plan, "render-custom", {"custom_image.rendered_dir": str(workdir / "custom-image"),
                                             "custom_image.executed_parts": ["setup", "egress", "service"],
                                             "snowflake.compute_pool": "LLM_POOL"})
    plan_file.save(plan, workdir / "deployment.yaml")
    _, state = run(capsys, "show", "--json")
    assert "service function" in state["next_step"] and "push" not in state["next_step"]
    plan_file.update(plan, "render-custom", {"custom_image.executed_parts": ["setup", "egress", "service",
                                                                             "function"]})
    plan_file.save(plan, workdir / "deployment.yaml")
    _, state = run(capsys, "show", "--json")
    assert state["next_step"].startswith("service and function created")
    assert "no public endpoint" in state["next_step"] and "rest-access" in state["next_step"]  # walk gw1
    plan_file.update(plan, "render-custom", {"custom_image.public_endpoint": True})
    plan_file.save(plan, workdir / "deployment.yaml")
    _, state = run(capsys, "show", "--json")
    assert "no public endpoint" not in state["next_step"]


def test_show_of_a_gated_registry_plan_names_the_secret_and_the_live_family_names(capsys, workdir):
    """Walk reg1: the summary said the HF token comes 'from an environment variable or a file' (the
    registry path reads a Snowflake SECRET) and printed snowflake.live_families as a Python repr."""
    run(capsys, "plan", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--cloud", "aws", "--json")
    path = workdir / "deployment.yaml"
    plan = plan_file.load(path)
    plan_file.update(plan, "test", {"registry.hf_secret": "LLM_DB.SERVING.HF_TOKEN", "snowflake.live_families": [
        {"name": "GPU_NV_S", "gpu": "NVIDIA A10G", "gpu_count": 1}, {"name": "GPU_NV_M", "gpu_count": 4}]})
    plan_file.save(plan, path)
    code, prompt = run(capsys, "show", "--format", "prompt")
    assert code == 0 and "Snowflake SECRET (LLM_DB.SERVING.HF_TOKEN)" in prompt
    assert "- live_families: GPU_NV_S, GPU_NV_M\n" in prompt and "{'name'" not in prompt
    _, text = run(capsys, "show")
    assert "snowflake.live_families: GPU_NV_S, GPU_NV_M" in text and "{'name'" not in text


def test_models_family_prefix_matches_every_generation(capsys, workdir):
    """Walk reg1: `models --family llama` matched nothing (the families are llama3.1, llama3.2, ...)."""
    code, data = run(capsys, "models", "--family", "llama", "--json")
    assert code == 0
    families = {m["family"] for m in data["models"]}
    assert families and all(f.startswith("llama") for f in families) and len(families) >= 2
    _, exact = run(capsys, "models", "--family", "qwen3", "--json")
    assert {m["family"] for m in exact["models"]} == {"qwen3"}


def test_python_server_on_a_cpu_family_is_shown_but_not_confirmed(capsys, workdir):
    """deploy-registry needs a GPU pool: confirming a CPU answer led to a refusal after the checkpoint."""
    run(capsys, "plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--cloud", "aws", "--json")
    run(capsys, "select", "--family", "GPU_NV_S")
    code, data = run(capsys, "workers", "--engine", "registry", "--server", "python", "--family", "CPU_X64_M",
                     "--json")
    assert code == 0 and any("GPU pools only" in note for note in data["notes"])
    code, _ = run(capsys, "workers", "--engine", "registry", "--server", "python", "--family", "CPU_X64_M",
                  "--confirm")
    assert code == 2 and "CPU family" in run.last_err
    assert "workers" not in plan_file.load(workdir / "deployment.yaml")
