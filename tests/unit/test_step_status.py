"""status: snapshot, --wait progress with a fake clock, endpoint probe, timeout pointer, dry run."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from snowflake_testkit import RECORDED, prepare_offline, run_step, run_text, use_scenarios, write_plan

from spcs_llm.snowflake import statements
from spcs_llm.steps import status

SERVICE = ["--name", "llm_svc", "--database", "llm_db", "--schema", "serving"]
PAT = "pat-secret-value-0123456789"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(status, "_clock", fake)
    monkeypatch.setattr(status, "_sleep", fake.sleep)
    return fake


class Response:
    def __init__(self, code):
        self.status_code = code


CHAT_REPLY = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
              "usage": {"prompt_tokens": 5, "completion_tokens": 1}}


class ChatResponse(Response):
    """What the chat probe reads: the status, the JSON reply ({"data": [[0, reply]]} on /--call--)."""

    def __init__(self, code, url):
        super().__init__(code)
        self.payload = (CHAT_REPLY if "/v1/" in url else {"data": [[0, CHAT_REPLY]]}) if code == 200 else None
        self.text = "" if code == 200 else "<html>Not Found</html>"

    def json(self):
        return self.payload


def fake_post(codes, seen):
    def post(url, json, headers, timeout, allow_redirects):
        seen.append((url, headers, json))
        return ChatResponse(codes.pop(0) if len(codes) > 1 else codes[0], url)
    return post


def fake_get(codes, seen):
    def get(url, headers, timeout, allow_redirects):
        seen.append((url, headers))
        return Response(codes.pop(0) if len(codes) > 1 else codes[0])
    return get


def test_golden_statements():
    assert statements.describe_service("llm_db.serving.llm_svc") == "DESCRIBE SERVICE LLM_DB.SERVING.LLM_SVC"
    assert statements.show_service_containers("llm_db.serving.llm_svc") == \
        "SHOW SERVICE CONTAINERS IN SERVICE LLM_DB.SERVING.LLM_SVC"
    assert statements.show_endpoints("llm_db.serving.llm_svc") == "SHOW ENDPOINTS IN SERVICE LLM_DB.SERVING.LLM_SVC"


def test_ready_without_token_is_ready_but_says_not_probed(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    code, data, _ = run_step(capsys, "status", *SERVICE)
    assert code == 0 and data["phase"] == "ready" and data["probe"]["result"] == "not-probed"
    assert [c["status"] for c in data["containers"]] == ["READY"] * 3
    assert data["endpoint"]["url"] == "https://a1b2c3-myorg-ml-prod.snowflakecomputing.app"
    _, out, _ = run_text(capsys, "status", *SERVICE)
    assert "not-probed (no PAT given (set $SNOWFLAKE_PAT" in out and "****" not in out


def test_probe_uses_the_pat_header_and_never_prints_it(offline, monkeypatch, capsys):
    import requests

    use_scenarios(monkeypatch, offline, "aws_ready")
    monkeypatch.setenv("SNOWFLAKE_PAT", PAT)
    seen = []
    monkeypatch.setattr(requests, "get", fake_get([200], seen))
    code, out, err = run_text(capsys, "status", *SERVICE, "--probe-path", "/health")
    assert code == 0 and "answering (HTTP 200)" in out
    assert seen[0] == ("https://a1b2c3-myorg-ml-prod.snowflakecomputing.app/health",
                       {"Authorization": f'Snowflake Token="{PAT}"'})
    assert PAT not in out + err
    assert PAT not in (offline / ".spcs-llm" / "statements.log").read_text()


def test_pat_from_file(offline, monkeypatch, capsys):
    import requests

    use_scenarios(monkeypatch, offline, "aws_ready")
    (offline / "pat.txt").write_text(PAT + "\n")
    seen = []
    monkeypatch.setattr(requests, "post", fake_post([200], seen))
    code, data, _ = run_step(capsys, "status", *SERVICE, "--pat-file", str(offline / "pat.txt"))
    assert code == 0 and data["probe"]["result"] == "answering" and seen[0][1]["Authorization"].endswith(f'"{PAT}"')
    # without a plan naming the model, the probe is a one-token chat on the registry's method route
    assert seen[0][0].endswith("/--call--") and seen[0][2]["params"]["max_completion_tokens"] == 1


def test_refused_token_is_an_environment_error(offline, monkeypatch, capsys, clock):
    import requests

    use_scenarios(monkeypatch, offline, "aws_ready")
    monkeypatch.setenv("SNOWFLAKE_PAT", PAT)
    monkeypatch.setattr(requests, "post", fake_post([404], []))  # the ingress's answer to a refused token
    code, data, _ = run_step(capsys, "status", *SERVICE, "--wait")
    assert code == 3 and data["phase"] == "auth-failed" and "ALL_ENDPOINTS_USAGE" in data["probe"]["detail"]
    assert clock.sleeps == []  # no point waiting for a refused token


def test_wait_until_the_model_answers(offline, monkeypatch, capsys, clock):
    import requests

    use_scenarios(monkeypatch, offline, "aws_ready")
    monkeypatch.setenv("SNOWFLAKE_PAT", PAT)
    monkeypatch.setattr(requests, "post", fake_post([502, 503, 200], []))
    code, data, err = run_step(capsys, "status", *SERVICE, "--wait", "--interval", "10")
    assert code == 0 and data["phase"] == "ready"
    assert [h["phase"] for h in data["history"]] == ["loading", "loading", "ready"]
    assert clock.sleeps == [10, 10] and data["waited_s"] == 20
    assert "loading" in err and "model-inference=READY" in err


def test_wait_follows_a_pending_service_to_ready(offline, monkeypatch, capsys, clock):
    replay_dir = use_scenarios(monkeypatch, offline, "aws_ready", "service_pending")
    polls = []

    def sleep(seconds):
        clock.sleep(seconds)
        polls.append(seconds)
        if len(polls) == 2:  # the service becomes ready after the second wait
            for file in (RECORDED / "aws_ready").glob("*llm_db_serving_llm_svc.json"):
                shutil.copy(file, replay_dir / file.name)

    monkeypatch.setattr(status, "_sleep", sleep)
    code, data, err = run_step(capsys, "status", *SERVICE, "--wait", "--no-probe", "--interval", "30")
    assert code == 0
    assert [h["phase"] for h in data["history"]] == ["restarting", "restarting", "ready"]
    assert data["history"][0]["restarts"] == 2
    assert "restarting" in err and "proxy=FAILED (restarts 2)" in err


def test_timeout_points_to_debugging(offline, monkeypatch, capsys, clock):
    use_scenarios(monkeypatch, offline, "aws_ready", "service_pending")
    code, out, err = run_text(capsys, "status", *SERVICE, "--wait", "--timeout", "60", "--interval", "15")
    assert code == 1
    assert "not ready after 60 s; run the same command again" in out
    # an assistant follows its installed copy: the pointer names the playbook, not only a path in the pack
    assert "debugging: Load debug/SKILL.md of the installed spcs-llm skill" in out
    assert "find the cause: spcs-llm diagnose --service LLM_DB.SERVING.LLM_SVC" in out
    assert "SELECT SYSTEM$GET_SERVICE_LOGS('LLM_DB.SERVING.LLM_SVC', '0', 'proxy', 100);" in out
    assert clock.now == 60 and len(clock.sleeps) == 4  # polls at 0, 15, 30, 45 and 60 s


def test_snapshot_of_a_pending_service_exits_1(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "service_pending")
    code, data, _ = run_step(capsys, "status", *SERVICE)
    assert code == 1 and data["service_status"] == "PENDING" and data["endpoint"]["url"] is None
    assert data["containers"][0]["message"] == "Compute pool node(s) are being provisioned"


def test_debug_pointer_prefers_the_playbook(monkeypatch, tmp_path):
    monkeypatch.setattr(status, "PACK_ROOT", tmp_path)
    assert status._debug_pointer() == status.DEBUG_DOC
    (tmp_path / status.DEBUG_PLAYBOOK).parent.mkdir(parents=True)
    (tmp_path / status.DEBUG_PLAYBOOK).write_text("---\n")
    assert status._debug_pointer() == status.DEBUG_PLAYBOOK


def test_missing_service(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready")
    code, data, _ = run_step(capsys, "status", "--name", "gone_svc", "--database", "llm_db", "--schema", "serving",
                             "--wait")
    assert code == 1 and data["phase"] == "missing" and "does not exist" in data["message"]


def test_dry_run_prints_the_three_statements(offline, capsys):
    code, data, err = run_step(capsys, "status", *SERVICE, "--dry-run", "--wait")
    assert code == 0 and data["mode"] == "dry-run"
    assert data["statements"] == ["DESCRIBE SERVICE LLM_DB.SERVING.LLM_SVC",
                                  "SHOW SERVICE CONTAINERS IN SERVICE LLM_DB.SERVING.LLM_SVC",
                                  "SHOW ENDPOINTS IN SERVICE LLM_DB.SERVING.LLM_SVC"]
    # nothing was read, so no phase is claimed ("pending" would tell the user something false)
    assert data["phase"] == "unknown"
    _, text, _ = run_text(capsys, "status", *SERVICE, "--dry-run")
    assert "pending" not in text and ": unknown" in text


def test_probe_path_follows_the_engine_path(offline, monkeypatch, capsys):
    import requests
    from snowflake_testkit import write_plan

    use_scenarios(monkeypatch, offline, "aws_ready")
    write_plan(offline / "deployment.yaml", engine_path="custom-image")
    monkeypatch.setenv("SNOWFLAKE_PAT", PAT)
    seen, posted = [], []
    monkeypatch.setattr(requests, "get", fake_get([200], seen))
    monkeypatch.setattr(requests, "post", fake_post([200], posted))
    code, _, _ = run_step(capsys, "status", *SERVICE)  # a chat request through the proxy's /v1 pass-through
    assert code == 0 and posted[0][0].endswith(".snowflakecomputing.app/v1/chat/completions") and not seen
    assert posted[0][2]["model"] == "Qwen/Qwen2.5-7B-Instruct" and posted[0][2]["max_tokens"] == 1
    code, _, _ = run_step(capsys, "status", *SERVICE, "--probe-path", "/health")
    assert code == 0 and seen[0][0].endswith(".snowflakecomputing.app/health")


@pytest.mark.parametrize("argv", [["--timeout", "0"], ["--interval", "-1"], ["--probe-path", "health"]])
def test_bad_timing_flags(offline, capsys, argv):
    from spcs_llm import cli

    assert cli.main(["status", *SERVICE, "--dry-run", *argv]) == 2


def at(monkeypatch, when: str):
    monkeypatch.setattr(status, "_wallclock", lambda: dt.datetime.fromisoformat(when))


def test_ready_between_crashes_is_a_crash_loop_and_wait_stops(offline, monkeypatch, capsys, clock):
    use_scenarios(monkeypatch, offline, "aws_ready", "kv_crash_loop")
    at(monkeypatch, "2026-04-02T15:45:00+00:00")  # the 7th restart was 5 minutes ago
    code, data, err = run_step(capsys, "status", *SERVICE, "--wait", "--no-probe")
    assert code == 1 and data["phase"] == "restarting" and clock.sleeps == []
    assert data["crash_loop"] == ["model-inference (instance 0) has restarted 7 times, last exit 1"]
    assert data["diagnose"] == "spcs-llm diagnose --service LLM_DB.SERVING.LLM_SVC"
    assert any(s.endswith("100, TRUE), '\\n'));") for s in data["log_statements"])  # the crashed run's log


def test_old_restarts_are_history_not_a_crash_loop(offline, monkeypatch, capsys):
    use_scenarios(monkeypatch, offline, "aws_ready", "kv_crash_loop")
    at(monkeypatch, "2026-04-03T15:45:00+00:00")  # a day later, READY since
    code, data, _ = run_step(capsys, "status", *SERVICE, "--no-probe")
    assert code == 0 and data["phase"] == "ready" and data["crash_loop"] == []


def test_restarts_rising_during_the_wait_stop_it(offline, monkeypatch, capsys, clock):
    replay_dir = use_scenarios(monkeypatch, offline, "aws_ready", "service_pending")
    containers = next(replay_dir.glob("show_service_containers_in_service_llm_db_serving_llm_svc.json"))

    def sleep(seconds):
        clock.sleep(seconds)
        data = json.loads(containers.read_text())
        data["rows"][1].update(restart_count=data["rows"][1]["restart_count"] + 1, last_exit_code=1)
        containers.write_text(json.dumps(data))

    monkeypatch.setattr(status, "_sleep", sleep)
    code, data, err = run_step(capsys, "status", *SERVICE, "--wait", "--no-probe", "--interval", "30")
    assert code == 1 and data["phase"] == "restarting" and len(data["history"]) == 2
    assert data["crash_loop"] == ["proxy (instance 0) restarted during the wait (2 -> 3 restarts, last exit 1)"]
    # a snapshot now sees 3 restarts after a non-zero exit, with no restart time: a crash loop too
    out = run_text(capsys, "status", *SERVICE, "--no-probe")[1]
    assert "crash loop: proxy (instance 0) has restarted 3 times, last exit 1" in out


def test_default_wait_fits_an_assistant_command_timeout():
    assert status.DEFAULT_TIMEOUT_S <= 540


@pytest.mark.parametrize(("value", "recent"), [
    ("2026-04-02T15:40:00Z", True), ("2026-04-02 08:40:00.000 -0700", True), ("2026-04-02T14:00:00+00:00", False),
    (None, True), ("not a time", True)])
def test_restart_times_in_the_formats_snowflake_prints(monkeypatch, value, recent):
    at(monkeypatch, "2026-04-02T15:45:00+00:00")
    assert status._recent(value) is recent


def test_a_service_the_running_deployment_script_has_not_created_yet_is_deploying(offline, monkeypatch, capsys,
                                                                                   clock):
    """Walk reg1: `status --wait` right after `deploy-registry --execute --yes` stopped at once on 'missing'
    and pointed at debugging while the script was still registering the model."""
    import os

    use_scenarios(monkeypatch, offline, "aws_ready")
    log = offline / "deploy_gone_svc.log"
    log.write_text("x INFO PHASE connect\nx INFO PHASE register\n")
    write_plan(offline / "deployment.yaml", registry__service_fqn="LLM_DB.SERVING.GONE_SVC",
               registry__pid=os.getpid(), registry__log_path=str(log))
    argv = ["status", "--name", "gone_svc", "--database", "llm_db", "--schema", "serving"]
    code, data, _ = run_step(capsys, *argv, "--wait", "--timeout", "60", "--interval", "15")
    assert code == 1 and data["phase"] == "deploying" and data["debug"] is None and data["diagnose"] is None
    assert "phase register" in data["message"] and len(data["history"]) == 5  # --wait kept polling (0..60 s)
    code, out, _ = run_text(capsys, *argv)
    assert "deploying" in out and "debugging:" not in out and f"tail -f {log}" in out
    write_plan(offline / "deployment.yaml", registry__service_fqn="LLM_DB.SERVING.GONE_SVC", registry__pid=0)
    code, data, _ = run_step(capsys, *argv)  # the script is gone: missing is missing
    assert code == 1 and data["phase"] == "missing"
