"""endpoint url / test / bench against recorded SHOW ENDPOINTS answers and the ingress simulator.

Every run passes the canary PAT (env var or file) and checks it never reaches stdout, stderr, the
plan or the statement log."""

from __future__ import annotations

import json
import shutil

import pytest
from rest_testkit import CANARY, NO_GRANT, FakeOAuth, write_private_key
from snowflake_testkit import RECORDED, prepare_offline, run_step, run_text, use_scenarios, write_plan

from spcs_llm import cli, plan_file
from spcs_llm.steps import endpoint

SERVICE = ["--name", "llm_svc", "--database", "llm_db", "--schema", "serving"]
SERVED = "QWEN2_5_7B_INSTRUCT"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


def no_canary(workdir, *texts: str) -> None:
    files = [p for p in workdir.rglob("*") if p.is_file() and p.name != "pat.txt" and p.suffix != ".png"]
    for text in [*texts, *(p.read_text(errors="replace") for p in files)]:
        assert CANARY not in text and NO_GRANT not in text


def registry_plan(workdir, url: str | None = None, **fields):
    extra = {"registry__ingress_url": url} if url else {}
    return write_plan(workdir / "deployment.yaml", engine_path="registry", registry__model_name="qwen2_5_7b_instruct",
                      registry__source="remote", registry__service_fqn="LLM_DB.SERVING.LLM_SVC", **extra, **fields)


# ---- url ----------------------------------------------------------------------------------------

def test_url_reads_show_endpoints_and_records_it(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    registry_plan(offline)
    code, data, _ = run_step(capsys, "endpoint", "url")
    assert code == 0 and data["state"] == "assigned" and data["endpoint"] == "inference"
    assert data["url"] == "https://a1b2c3-myorg-ml-prod.snowflakecomputing.app"
    assert data["statements"] == ["SHOW ENDPOINTS IN SERVICE LLM_DB.SERVING.LLM_SVC"]
    plan = plan_file.load(offline / "deployment.yaml")
    assert plan_file.get(plan, "registry.ingress_url") == data["url"] and data["recorded"] == "registry.ingress_url"


def test_url_waits_with_progress_while_provisioning(offline, monkeypatch, capsys):
    replay_dir = use_scenarios(monkeypatch, offline, "aws_ready", "service_pending")
    clock = {"now": 0.0}
    monkeypatch.setattr(endpoint, "_clock", lambda: clock["now"])

    def sleep(seconds):
        clock["now"] += seconds
        if clock["now"] >= 20:  # assigned after the second wait
            shutil.copy(RECORDED / "aws_ready" / "show_endpoints_in_service_llm_db_serving_llm_svc.json", replay_dir)

    monkeypatch.setattr(endpoint, "_sleep", sleep)
    code, data, err = run_step(capsys, "endpoint", "url", *SERVICE, "--wait", "--interval", "10")
    assert code == 0 and data["polls"] == 3 and data["waited_s"] == 20
    assert err.count("Endpoints provisioning in progress") == 2


def test_url_provisioning_without_wait_exits_1(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "service_pending")
    code, out, _ = run_text(capsys, "endpoint", "url", *SERVICE)
    assert code == 1 and "still being provisioned" in out and "--wait" in out


def test_url_timeout(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "service_pending")
    clock = {"now": 0.0}
    monkeypatch.setattr(endpoint, "_clock", lambda: clock["now"])
    monkeypatch.setattr(endpoint, "_sleep", lambda s: clock.__setitem__("now", clock["now"] + s))
    code, data, _ = run_step(capsys, "endpoint", "url", *SERVICE, "--wait", "--timeout", "30", "--interval", "10")
    assert code == 1 and data["state"] == "timed-out" and data["polls"] == 4  # at 0, 10, 20 and 30 s


# ---- test ---------------------------------------------------------------------------------------

def test_chat_on_both_registry_routes(offline, monkeypatch, capsys, simulator):
    sim = simulator()
    registry_plan(offline, sim.url)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, out, err = run_text(capsys, "endpoint", "test")
    assert code == 0, out + err
    assert "POST /v1/chat/completions: HTTP 200" in out and "POST /--call--: HTTP 200" in out
    assert "8 output tokens (usage)" in out
    assert [s["path"] for s in sim.seen] == ["/v1/chat/completions", "/--call--"]
    assert all(s["authorization"] == f'Snowflake Token="{CANARY}"' for s in sim.seen)
    assert sim.seen[0]["body"]["model"] == SERVED
    split, params = sim.seen[1]["body"]["dataframe_split"], sim.seen[1]["body"]["params"]
    assert split["columns"] == ["messages"] and params["max_completion_tokens"] == 64
    no_canary(offline, out, err)


def test_streamed_test_reports_time_to_first_token(offline, monkeypatch, capsys, simulator):
    sim = simulator(token_delay=0.01)
    registry_plan(offline, sim.url)
    (offline / "pat.txt").write_text(CANARY + "\n")
    (offline / "pat.txt").chmod(0o600)
    code, data, err = run_step(capsys, "endpoint", "test", "--pat-file", str(offline / "pat.txt"), "--stream",
                               "--route", "/v1/chat/completions")
    route = data["routes"][0]
    assert code == 0 and route["stream"] and 0 < route["ttft_s"] < route["latency_s"]
    assert route["output_tokens"] == 8 and route["tokens_from"] == "usage" and "readable" not in err
    no_canary(offline, json.dumps(data), err)


def test_loading_is_retried_with_backoff(offline, monkeypatch, capsys, simulator):
    sim = simulator(loading=2)
    registry_plan(offline, sim.url)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, data, err = run_step(capsys, "endpoint", "test", "--backoff", "0.01", "--route", "/v1/chat/completions")
    assert code == 0 and data["routes"][0]["attempts"] == 3
    assert err.count("the model may still be loading; retry") == 2


def test_still_loading_after_the_retries(offline, monkeypatch, capsys, simulator):
    sim = simulator(loading=10)
    registry_plan(offline, sim.url)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, data, _ = run_step(capsys, "endpoint", "test", "--backoff", "0", "--retries", "1", "--route", "/--call--")
    assert code == 1 and data["routes"][0]["diagnosis"]["kind"] == "loading" and data["routes"][0]["status"] == 502


def test_ingress_404_is_traced_to_the_missing_grant_and_expired_pat(offline, monkeypatch, capsys, simulator):
    sim = simulator()
    use_scenarios(monkeypatch, offline, "aws_ready", "rest_blocked")
    registry_plan(offline, sim.url)
    monkeypatch.setenv("APP_PAT", NO_GRANT)
    code, out, err = run_text(capsys, "endpoint", "test", "--pat-env", "APP_PAT", "--user", "llm_svc_app")
    assert code == 3
    assert out.count("auth-or-route: HTTP 404 from the ingress") == 2
    assert "[ok] network policy: LLM_SVC_APP is subject to network policy LLM_SVC_APP_POLICY" in out
    assert "[failed] PAT: no ACTIVE token for LLM_SVC_APP: APP_TOKEN (EXPIRED" in out
    assert "[failed] service role: role LLM_SVC_CALLER lacks LLM_DB.SERVING.LLM_SVC!ALL_ENDPOINTS_USAGE" in out
    assert "cause: PAT:" in out
    no_canary(offline, out, err)


def test_404_for_a_person_without_network_policy(offline, monkeypatch, capsys, simulator):
    sim = simulator()
    use_scenarios(monkeypatch, offline, "aws_ready", "rest_blocked")
    registry_plan(offline, sim.url)
    monkeypatch.setenv("SNOWFLAKE_PAT", "a-wrong-token-123456")
    code, data, _ = run_step(capsys, "endpoint", "test", "--user", "alice")
    checks = {c["check"]: c for c in data["account_checks"]}
    assert code == 3 and checks["network policy"]["status"] == "failed"
    assert "no network policy applies to ALICE" in checks["network policy"]["detail"]


def test_wrong_model_name_reaches_the_server(offline, monkeypatch, capsys, simulator):
    sim = simulator()
    registry_plan(offline, sim.url)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, data, _ = run_step(capsys, "endpoint", "test", "--model", "qwen2_5_7b_instruct",
                             "--route", "/v1/chat/completions")
    assert code == 1 and data["routes"][0]["diagnosis"]["kind"] == "model-not-found"
    assert data["account_checks"] == []  # it reached the container: no account checks


def test_openai_route_missing_while_the_method_route_answers(offline, monkeypatch, capsys, simulator):
    sim = simulator(openai_route=False)
    registry_plan(offline, sim.url)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, data, _ = run_step(capsys, "endpoint", "test")
    kinds = [r["diagnosis"]["kind"] for r in data["routes"]]
    assert code == 1 and kinds == ["route-missing", "ok"] and data["account_checks"] == []


def test_idle_timeout_cut_and_streaming_survives(offline, monkeypatch, capsys, simulator):
    sim = simulator(token_delay=0.1, idle_timeout=0.3)
    registry_plan(offline, sim.url)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    args = ["endpoint", "test", "--route", "/v1/chat/completions", "--idle-timeout", "0.3", "--max-tokens", "8"]
    code, data, _ = run_step(capsys, *args)
    diagnosis = data["routes"][0]["diagnosis"]
    assert code == 1 and diagnosis["kind"] == "idle-timeout" and "--stream" in diagnosis["message"]
    code, data, _ = run_step(capsys, *args, "--stream")
    assert code == 0 and data["routes"][0]["output_tokens"] == 8


def test_custom_image_uses_the_openai_route_and_the_model_id(offline, monkeypatch, capsys, simulator):
    sim = simulator(model="Qwen/Qwen2.5-7B-Instruct")
    write_plan(offline / "deployment.yaml", engine_path="custom-image", custom_image__ingress_url=sim.url)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, data, _ = run_step(capsys, "endpoint", "test")
    assert code == 0 and [r["route"] for r in data["routes"]] == ["/v1/chat/completions"]
    assert sim.seen[0]["body"]["model"] == "Qwen/Qwen2.5-7B-Instruct"


def test_dry_run_sends_nothing_and_needs_no_token(offline, capsys, simulator):
    sim = simulator()
    registry_plan(offline, sim.url)
    code, data, _ = run_step(capsys, "endpoint", "test", "--dry-run")
    assert code == 0 and sim.seen == [] and len(data["requests"]) == 2
    assert data["requests"][0]["auth"] == "Snowflake Token from the PAT in $SNOWFLAKE_PAT"


def test_missing_token_names_the_variable(offline, capsys, simulator):
    sim = simulator()
    registry_plan(offline, sim.url)
    code, out, err = run_text(capsys, "endpoint", "test", "--pat-env", "MY_PAT")
    assert code == 2 and "$MY_PAT is not set" in err and sim.seen == []


def test_token_file_recorded_by_access_is_the_default(offline, capsys, simulator):
    sim = simulator()
    (offline / "pat.txt").write_text(CANARY)
    (offline / "pat.txt").chmod(0o644)
    registry_plan(offline, sim.url, rest__pat_file=str(offline / "pat.txt"))
    code, out, err = run_text(capsys, "endpoint", "test", "--route", "/--call--")
    assert code == 0 and "readable by other users (mode 0644)" in err
    no_canary(offline, out, err)


@pytest.mark.parametrize("argv", [["--requests", "0"], ["--max-tokens", "-1"], ["--retries", "-2"],
                                  ["--endpoint", "ftp://host"], ["--route", "/predict"]])
def test_bad_input_exits_2(offline, capsys, argv):
    registry_plan(offline, "https://a1b2c3-myorg-ml-prod.snowflakecomputing.app")
    with pytest.raises(SystemExit) if argv[0] == "--route" else _nothing():
        assert cli.main(["endpoint", "test", "--dry-run", *argv]) == 2


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---- bench --------------------------------------------------------------------------------------

def estimated_plan(workdir, url: str, *, total: float, single_stream: float, batch: int, **fields) -> None:
    """A registry plan on 4 instances whose chosen candidate carries these sizing estimates."""
    path = registry_plan(workdir, url, **fields)
    plan = plan_file.load(path)
    plan["candidates"][0].update(est_decode_tokens_per_s=total, est_decode_tokens_per_s_single_stream=single_stream,
                                 roofline_batch_per_replica=batch)
    plan["selection"]["instances"] = 4
    plan_file.save(plan, path)

def test_bench_reports_latency_ttft_throughput_and_the_roofline(offline, monkeypatch, capsys, simulator):
    sim = simulator(token_delay=0.005, reply_tokens=6)
    estimated_plan(offline, sim.url, total=2400.0, single_stream=95.0, batch=4)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    chart = offline / "bench.png"
    code, data, err = run_step(capsys, "endpoint", "bench", "--requests", "6", "--concurrency", "3",
                               "--max-tokens", "6", "--chart", str(chart))
    assert code == 0 and data["succeeded"] == 6 and data["errors"] == {}
    assert len([s for s in sim.seen if s["body"]["stream"]]) == 6
    assert 0 < data["ttft_s"]["p50"] <= data["latency_s"]["p50"] <= data["latency_s"]["p95"]
    assert data["output_tokens"] == 36 and data["output_tokens_per_s_total"] > 0
    roof = data["roofline"]
    assert roof["estimate"]["instance_family"] == "GPU_NV_M" and roof["estimate"]["single_stream_tokens_per_s"] == 95.0
    assert roof["per_request_vs_single_stream"] > 0 and roof["total_vs_node"] > 0
    assert roof["total_estimate"]["tokens_per_s"] == 285.0  # 3 requests on 4 instances, 95 tok/s each
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    no_canary(offline, json.dumps(data), err)


@pytest.mark.parametrize("concurrency,estimate", [("1", 37.1), ("4", 148.4), ("8", None)])
def test_bench_compares_the_total_at_its_own_concurrency(offline, monkeypatch, capsys, simulator, concurrency,
                                                         estimate):
    """Walk rest1: the plan (made for concurrency 1) stores one busy instance's rate as its total; a
    concurrency-4 bench on 4 instances was printed as "985% of one node's estimate"."""
    sim = simulator(token_delay=0.001, reply_tokens=4)
    estimated_plan(offline, sim.url, total=37.1, single_stream=37.1, batch=1, request__concurrency=1)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, out, _ = run_text(capsys, "endpoint", "bench", "--requests", "8", "--concurrency", concurrency,
                            "--max-tokens", "4")
    assert code == 0 and "one node" not in out
    if estimate:
        assert f"of {estimate:g} tok/s" in out
    else:
        assert "no estimate for concurrency 8 (the plan estimated concurrency 1 on 4 instance(s))" in out


def test_bench_without_a_plan_says_so(offline, monkeypatch, capsys, simulator):
    sim = simulator()
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, out, _ = run_text(capsys, "endpoint", "bench", "--endpoint", sim.url, "--model", "QWEN2_5_7B_INSTRUCT",
                            "--requests", "2", "--concurrency", "1")
    assert code == 0 and "no plan (deployment.yaml) here" in out


def test_bench_counts_errors(offline, monkeypatch, capsys, simulator):
    sim = simulator(loading=2)
    registry_plan(offline, sim.url)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, out, _ = run_text(capsys, "endpoint", "bench", "--requests", "4", "--concurrency", "1")
    assert code == 1 and "HTTP 502 x2" in out and "no roofline estimate" in out


def test_percentile_is_nearest_rank():
    from spcs_llm.rest.bench import percentile

    assert percentile([3, 1, 2, 4], 50) == 2 and percentile([3, 1, 2, 4], 95) == 4 and percentile([], 50) is None


def test_offline_uses_do_not_import_snowflake(offline):
    """endpoint test/bench with a known URL and gateway never log in, so they never load the
    Snowflake libraries (seconds of import time); only url and the 404 checks do."""
    import subprocess
    import sys

    registry_plan(offline, "https://a1b2c3-myorg-ml-prod.snowflakecomputing.app")
    probe = ("import json, sys\nfrom spcs_llm.cli import main\n"
             "codes = [main(['endpoint', 'test', '--dry-run']), main(['endpoint', 'bench', '--dry-run']),\n"
             "         main(['gateway', '--check', '--pat-env', 'P'])]\n"
             "print(json.dumps([codes, sorted(m for m in sys.modules if m.startswith('snowflake.'))]))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=offline, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "P": CANARY, "HOME": str(offline)})
    codes, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert codes == [0, 0, 0] and modules == [], proc.stderr
    assert CANARY not in proc.stdout + proc.stderr


def test_key_pair_token_from_the_plan(offline, monkeypatch, capsys, simulator):
    from spcs_llm.rest import keypair

    sim = simulator()
    sim.tokens["kp-token-333333"] = True
    write_private_key(offline / "key.p8")
    registry_plan(offline, sim.url, snowflake__account="MYORG-ML_PROD", rest__token_method="keypair",
                  rest__private_key_file=str(offline / "key.p8"), rest__caller_user="LLM_SVC_APP",
                  rest__caller_role="LLM_SVC_CALLER")
    oauth = FakeOAuth(["kp-token-333333"])
    monkeypatch.setattr(keypair, "requests", oauth)
    code, out, err = run_text(capsys, "endpoint", "test", "--route", "/--call--")
    assert code == 0 and sim.seen[0]["authorization"] == 'Snowflake Token="kp-token-333333"'
    assert oauth.posts[0][0] == "https://MYORG-ML_PROD.snowflakecomputing.com/oauth/token"
    assert "kp-token-333333" not in out + err and "PRIVATE" not in out + err


def test_without_a_plan_a_custom_image_service_passes_on_its_only_route(offline, monkeypatch, capsys, simulator):
    """On another machine (no plan) the path is unknown: the custom image serves no /--call--, and its 404
    there must not fail a test whose chat request answered (walk gw1: the playbook's command exited 1)."""
    sim = simulator(call_route=False, model="Qwen/Qwen2.5-7B-Instruct")
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, data, _ = run_step(capsys, "endpoint", "test", "--endpoint", sim.url, "--model", "Qwen/Qwen2.5-7B-Instruct")
    kinds = [r["diagnosis"]["kind"] for r in data["routes"]]
    assert code == 0 and kinds == ["ok", "route-missing"] and data["engine_path"] == "unknown (no plan)"
    assert "custom image" in data["routes"][1]["diagnosis"]["message"]
