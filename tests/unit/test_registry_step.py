"""`spcs-llm deploy-registry`: rendering records the choices, --dry-run changes nothing, --execute
refuses without --yes and as ACCOUNTADMIN, and --execute --yes starts the script detached with its
output in the log file and the pid recorded in the plan."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest
from registry_testkit import make_plan, make_snapshot
from snowflake_testkit import prepare_offline

from spcs_llm import cli, plan_file
from spcs_llm.registry import launch
from spcs_llm.steps import deploy_registry


@pytest.fixture
def workdir(monkeypatch, tmp_path):
    prepare_offline(monkeypatch, tmp_path)
    plan_file.save(make_plan(), tmp_path / "deployment.yaml")
    return tmp_path


def run(capsys, *argv):
    code = cli.main(["deploy-registry", *argv, "--json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else {}), out.err


def test_render_writes_the_script_and_records_the_choices(workdir, capsys):
    code, data, _ = run(capsys)
    assert code == 0 and data["mode"] == "rendered" and data["pid"] is None
    script = workdir / ".spcs-llm" / "registry" / "deploy_qwen_svc.py"
    assert data["script_path"] == str(script) and script.is_file()
    plan = plan_file.load(workdir / "deployment.yaml")
    assert plan["registry"]["source"] == "remote"
    assert plan["registry"]["model_name"] == "QWEN2_5_7B_INSTRUCT" and plan["registry"]["version_name"] == "V1"
    assert plan["registry"]["script_path"] == str(script)
    assert plan["registry"]["service_fqn"] == "ML.LLMS.QWEN_SVC"
    assert plan["engine_path"] == "registry"
    assert "pid" not in plan["registry"]
    assert data["execute_command"] == "spcs-llm deploy-registry --execute --yes"


def test_recorded_route_is_reused_without_the_flag(workdir, capsys):
    assert run(capsys, "--hf-secret", "HF_TOKEN")[0] == 0
    code, data, _ = run(capsys)
    assert code == 0 and "secret ML.LLMS.HF_TOKEN" in data["route_text"]
    snap = make_snapshot(workdir / "models")
    code, data, _ = run(capsys, "--snapshot-dir", str(snap))
    assert code == 0 and data["route"] == "snapshot"
    assert run(capsys)[1]["route"] == "snapshot"
    assert run(capsys, "--remote")[1]["route"] == "remote"
    registry = plan_file.load(workdir / "deployment.yaml")["registry"]
    assert registry["hf_secret"] == "ML.LLMS.HF_TOKEN"  # the earlier answer is kept across route switches


def test_dry_run_changes_nothing_in_the_plan(workdir, capsys):
    before = (workdir / "deployment.yaml").read_text()
    code, data, _ = run(capsys, "--dry-run")
    assert code == 0 and data["mode"] == "dry-run"
    assert (workdir / "deployment.yaml").read_text() == before


def test_dry_run_writes_no_script(workdir, capsys):
    code, data, _ = run(capsys, "--dry-run")
    assert code == 0 and data["script_path"].endswith("deploy_qwen_svc.py")
    assert not (workdir / ".spcs-llm" / "registry").exists()
    cli.main(["deploy-registry", "--dry-run"])
    assert "would write" in capsys.readouterr().out


def test_execute_without_yes_refuses_and_names_the_flag(workdir, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(deploy_registry, "start_background", lambda *a, **k: started.append(a) or 1)
    code = cli.main(["deploy-registry", "--execute"])
    err = capsys.readouterr().err
    assert code == 2 and "--yes" in err and not started
    assert not (workdir / ".spcs-llm" / "registry").exists()  # refused before writing anything


def test_execute_dry_run_prints_the_command_and_starts_nothing(workdir, capsys, monkeypatch):
    monkeypatch.setattr(deploy_registry, "start_background", lambda *a, **k: pytest.fail("started"))
    code = cli.main(["deploy-registry", "--execute", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and "would run:" in out and "nothing was started" in out


def test_accountadmin_in_the_plan_is_refused_before_starting(monkeypatch, tmp_path, capsys):
    prepare_offline(monkeypatch, tmp_path)
    plan_file.save(make_plan(role="ACCOUNTADMIN"), tmp_path / "deployment.yaml")
    monkeypatch.setattr(deploy_registry, "start_background", lambda *a, **k: pytest.fail("started"))
    code = cli.main(["deploy-registry", "--execute", "--yes"])
    assert code == 2 and "ACCOUNTADMIN" in capsys.readouterr().err


def test_execute_yes_starts_in_the_background_and_records_the_pid(workdir, capsys, monkeypatch):
    calls = []

    def fake_start(script, log, result, **_):
        calls.append((script, log, result))
        return 4242

    monkeypatch.setattr(deploy_registry, "start_background", fake_start)
    code, _, err = run(capsys, "--execute", "--yes")
    assert code == 3 and "not configured here" in err and not calls  # the plan's 'llm' is not configured yet
    connections = workdir / "snowflake-home" / "connections.toml"
    connections.write_text('[llm]\naccount = "LLM12345"\nuser = "deployer"\npassword = "not-a-real-password"\n')
    connections.chmod(0o600)
    code, data, _ = run(capsys, "--execute", "--yes")
    assert code == 0 and data["mode"] == "started" and data["pid"] == 4242
    assert calls and calls[0][0].name == "deploy_qwen_svc.py"
    plan = plan_file.load(workdir / "deployment.yaml")
    assert plan["registry"]["pid"] == 4242 and plan["registry"]["started_at"]
    assert plan["registry"]["log_path"] == str(calls[0][1])
    assert data["follow"] == ["spcs-llm status --wait", f"tail -f {calls[0][1]}"]
    cli.main(["deploy-registry", "--execute", "--yes"])
    out = capsys.readouterr().out
    assert "started in the background (pid 4242)" in out and "tail -f" in out


def test_a_running_deployment_is_not_started_twice(workdir, capsys, monkeypatch):
    plan = plan_file.load(workdir / "deployment.yaml")
    plan_file.update(plan, "test", {"registry.pid": os.getpid(), "registry.log_path": "/tmp/x.log"})
    plan_file.save(plan, workdir / "deployment.yaml")
    monkeypatch.setattr(deploy_registry, "start_background", lambda *a, **k: pytest.fail("started"))
    code = cli.main(["deploy-registry", "--execute", "--yes"])
    err = capsys.readouterr().err
    assert code == 2 and "still running" in err and "tail -f /tmp/x.log" in err


def test_background_start_really_detaches_and_logs(tmp_path):
    """A harmless script in place of the deployment: it runs in its own session, its output lands
    in the log file (after the start line), and the step does not wait for it."""
    script = tmp_path / "harmless.py"
    script.write_text("import os, sys, time\ntime.sleep(0.3)\nprint('sid-differs', os.getsid(0) != "
                      f"{os.getsid(0)})\nprint('args', sys.argv[1:])\n")
    log, result = tmp_path / "out" / "deploy.log", tmp_path / "out" / "result.json"
    started = time.monotonic()
    pid = launch.start_background(script, log, result, python=sys.executable)
    assert time.monotonic() - started < 0.3  # returned before the script finished
    assert launch.is_running(pid)
    for _ in range(100):
        try:
            done = os.waitpid(pid, os.WNOHANG)[0] == pid
        except ChildProcessError:
            done = True
        if done:
            break
        time.sleep(0.05)
    text = log.read_text()
    assert text.startswith("--- spcs-llm deploy-registry: starting at ")
    assert "sid-differs True" in text
    assert f"args ['--log', '{log}', '--result', '{result}']" in text
    assert not launch.is_running(pid)


def test_is_running_rejects_non_pids():
    assert not launch.is_running(None) and not launch.is_running(True) and not launch.is_running(-1)
    assert launch.is_running(os.getpid())


def test_prompt_summary_ends_with_the_question(workdir, capsys):
    code = cli.main(["deploy-registry", "--format", "prompt"])
    out = capsys.readouterr().out
    assert code == 0
    assert "gpu_requests=1, instances 1..1" in out
    assert "--tensor-parallel-size=1 --max-model-len=8192 --gpu-memory-utilization=0.9" in out
    assert out.rstrip().endswith('Reply "yes", or say what to change.')
    assert "spcs-llm deploy-registry --execute --yes" in out


def test_flags_override_the_plan_targets_and_later_runs_remember_them(monkeypatch, tmp_path, capsys):
    prepare_offline(monkeypatch, tmp_path)
    plan = make_plan()
    del plan["snowflake"]
    plan_file.save(plan, tmp_path / "deployment.yaml")
    assert cli.main(["deploy-registry"]) == 2
    assert "--database" in capsys.readouterr().err
    code, data, _ = run(capsys, "--database", "ML", "--schema", "LLMS", "--compute-pool", "POOL", "--name", "SVC")
    assert code == 0 and data["service"] == "ML.LLMS.SVC"
    code, data, _ = run(capsys)
    assert code == 0 and data["service"] == "ML.LLMS.SVC" and data["compute_pool"] == "POOL"


def test_thin_script_runs_the_step(workdir):
    import subprocess

    from spcs_llm import PACK_ROOT

    proc = subprocess.run([sys.executable, str(PACK_ROOT / "scripts" / "deploy_registry.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--execute" in proc.stdout and "--hf-secret" in proc.stdout


def test_pre_logged_render_then_usage(workdir, capsys):
    code, data, _ = run(capsys, "--pre-logged", "TINYLLAMA-1.1B-CHAT-V1.0-20260902")
    assert code == 0 and data["model"] == 'SNOWFLAKE.MODELS."TINYLLAMA-1.1B-CHAT-V1.0-20260902"'
    registry = plan_file.load(workdir / "deployment.yaml")["registry"]
    assert registry["pre_logged_model"] == '"TINYLLAMA-1.1B-CHAT-V1.0-20260902"'
    assert "pre_logged_version" not in registry
    assert cli.main(["usage", "--json"]) == 0
    usage = json.loads(capsys.readouterr().out)
    assert usage["signature"]["form"] == "columns"
    assert "get_model('\"TINYLLAMA-1.1B-CHAT-V1.0-20260902\"').default" in usage["snippets"]["python"]


def test_a_service_named_here_reaches_status(monkeypatch, tmp_path, capsys):
    """Walk rest1: `deploy-registry --name LLM_SVC` recorded only registry.service_fqn, so the
    `spcs-llm status --wait` the playbook names next said "no service name given"."""
    from snowflake_testkit import use_scenarios

    prepare_offline(monkeypatch, tmp_path)
    plan_file.save(make_plan(), tmp_path / "deployment.yaml")
    code, _, _ = run(capsys, "--database", "LLM_DB", "--schema", "SERVING", "--name", "LLM_SVC")
    assert code == 0
    snowflake = plan_file.load(tmp_path / "deployment.yaml")["snowflake"]
    assert (snowflake["database"], snowflake["schema"], snowflake["service_name"]) == ("LLM_DB", "SERVING", "LLM_SVC")
    use_scenarios(monkeypatch, tmp_path, "aws_ready")
    assert cli.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["service"] == "LLM_DB.SERVING.LLM_SVC"


def test_execute_is_not_started_in_a_replay(workdir, capsys, monkeypatch):
    """Walk rest1: with SPCS_LLM_REPLAY_DIR set, --execute --yes started the real script, which
    tried to log in to the account the recordings stand in for."""
    from snowflake_testkit import use_scenarios

    use_scenarios(monkeypatch, workdir, "aws_ready")
    started = []
    monkeypatch.setattr(deploy_registry, "start_background", lambda *a: started.append(a) or 4242)
    code, data, _ = run(capsys, "--execute", "--yes")
    assert code == 3 and "replay" in data["error"] and not started
    assert "pid" not in plan_file.load(workdir / "deployment.yaml").get("registry", {})
    assert run(capsys, "--execute", "--dry-run")[0] == 0


def test_the_summary_says_what_an_unused_deployment_bills_before_the_yes(workdir, capsys):
    """Walk reg1: the user learnt that the public endpoint rules out auto-suspend (64 credits a day on
    GPU_NV_M) only after starting the deployment."""
    plan_file.save(make_plan(family="GPU_NV_M", credits=2.68), workdir / "deployment.yaml")
    cli.main(["deploy-registry", "--format", "prompt"])
    out = capsys.readouterr().out
    assert "When nobody calls it: nothing suspends it on its own" in out
    assert "about 64.32 credits a day per node" in out
    assert out.index("When nobody calls it") < out.index('Reply "yes"')
    cli.main(["deploy-registry", "--no-ingress", "--format", "prompt"])
    out = capsys.readouterr().out  # min_instances 1: still running, and how to let it sleep
    assert "keeps running with min_instances 1" in out and "min_instances 0" in out
    assert deploy_registry.idle_note({"ingress_enabled": False, "min_instances": 0}, 2.68).startswith(
        "Snowflake suspends it after about 30 minutes without traffic")
