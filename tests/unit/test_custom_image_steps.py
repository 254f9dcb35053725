"""`spcs-llm render-custom` and `spcs-llm image build|push` through the CLI: files and plan fields,
parts printed or refused without --yes, replayed responses, and docker/snow driven in order (fake
programs on PATH) or refused with exit 3 when missing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from spcs_llm import plan_file
from spcs_llm.cli import main
from spcs_llm.custom_image import docker
from spcs_llm.snowflake import replay

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "custom_image"


@pytest.fixture
def plan_path(tmp_path, monkeypatch):
    monkeypatch.delenv("SPCS_LLM_REPLAY_DIR", raising=False)
    monkeypatch.setenv("SPCS_LLM_STATEMENT_LOG", str(tmp_path / "statements.log"))
    path = tmp_path / "deployment.yaml"
    shutil.copy(GOLDEN / "tp1_gpu_nv_s" / "plan.yaml", path)
    return path


def run(capsys, *argv) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    try:
        data = json.loads(captured.out)
    except ValueError:
        data = None
    return code, data, captured.err


def test_render_writes_the_files_and_records_the_choices(capsys, plan_path):
    code, data, _ = run(capsys, "render-custom", "--plan", str(plan_path), "--weight-sources", "hf-mirror,modelscope",
                        "--proxy-concurrency", "16", "--extra-egress-host", "cdn.mirror.example.cn", "--json")
    assert code == 0
    out = plan_path.parent / "custom-image"
    assert data["out_dir"] == str(out)
    assert sorted(p.name for p in out.iterdir()) == data["files"]
    plan = plan_file.load(plan_path)
    ci = plan["custom_image"]
    assert ci["weight_sources"] == ["hf-mirror", "modelscope"]
    assert ci["proxy_concurrency"] == ci["max_batch_rows"] == 16  # kept matched
    assert ci["egress_hosts"][-1] == "cdn.mirror.example.cn"
    assert ci["image_url"] == data["image"] and ci["rendered_dir"] == str(out)
    assert "service_name" not in plan["snowflake"]  # recorded only once the service exists
    assert plan["history"][-1]["step"] == "render-custom"
    assert "MAX_BATCH_ROWS = 16" in (out / "07_function.sql").read_text()
    # repeatable flags add to what the plan lists
    code, data, _ = run(capsys, "render-custom", "--plan", str(plan_path), "--extra-egress-host",
                        "cdn2.mirror.example.cn", "--consumer-role", "BI", "--json")
    assert code == 0
    ci = plan_file.load(plan_path)["custom_image"]
    assert ci["extra_egress_hosts"] == ["cdn.mirror.example.cn", "cdn2.mirror.example.cn"]
    assert ci["consumer_roles"] == ["ANALYST", "BI"]


def test_a_bad_choice_changes_nothing(capsys, plan_path):
    before = plan_path.read_text()
    code, _, err = run(capsys, "render-custom", "--plan", str(plan_path), "--weight-sources", "github")
    assert code == 2 and "custom_image.weight_sources" in err
    assert plan_path.read_text() == before
    assert not (plan_path.parent / "custom-image").exists()


def test_part_needs_dry_run_or_execute(capsys, plan_path):
    code, _, err = run(capsys, "render-custom", "--plan", str(plan_path), "--part", "setup")
    assert code == 2 and "needs --dry-run (print) or --execute (run)" in err
    code, _, err = run(capsys, "render-custom", "--plan", str(plan_path), "--dry-run")
    assert code == 2 and "need --part" in err


def test_dry_run_prints_the_part_and_connects_to_nothing(capsys, plan_path):
    code, data, err = run(capsys, "render-custom", "--plan", str(plan_path), "--part", "egress", "--dry-run", "--json")
    assert code == 0
    assert data["mode"] == "dry-run" and data["executed"] is False
    assert [s.split()[0:4] for s in data["statements"]] == [
        ["CREATE", "EXTERNAL", "ACCESS", "INTEGRATION"], ["ALTER", "EXTERNAL", "ACCESS", "INTEGRATION"],
        ["GRANT", "USAGE", "ON", "INTEGRATION"]]
    assert err.count("-- dry run, not executed:") == 3


def test_dry_run_with_a_choice_changes_neither_plan_nor_files(capsys, plan_path):
    before = plan_path.read_bytes()
    code, data, err = run(capsys, "render-custom", "--plan", str(plan_path), "--consumer-role", "ANALYST",
                          "--part", "function", "--dry-run", "--json")
    assert code == 0
    assert any("ANALYST" in sql for sql in data["statements"])  # the choice is shown...
    assert plan_path.read_bytes() == before  # ...but not recorded
    assert not (plan_path.parent / "custom-image").exists()


def test_costly_parts_are_refused_without_yes(capsys, plan_path, tmp_path, monkeypatch):
    monkeypatch.setenv("SPCS_LLM_REPLAY_DIR", str(tmp_path / "replay"))
    code, _, err = run(capsys, "render-custom", "--plan", str(plan_path), "--part", "service", "--execute")
    assert code == 2 and "needs --yes" in err and "CREATE SERVICE IF NOT EXISTS" in err
    assert "service_name" not in plan_file.load(plan_path)["snowflake"]


def _record(directory: Path, sql: str, rows: list[dict] | None = None, source: str | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    body = {"statement": replay.normalise(sql), "rows": rows or [{"status": "ok"}]}
    if source:
        body["_source"] = source
    (directory / replay.file_name(sql)).write_text(json.dumps(body))


def test_execute_service_against_recorded_responses_records_the_service(capsys, plan_path, tmp_path, monkeypatch):
    from spcs_llm.custom_image import render, settings

    d = settings.resolve(plan_file.load(plan_path))
    files = render.render_all(d)
    replay_dir = tmp_path / "replay"
    for sql in render.statements(files["05_service.sql"]):
        _record(replay_dir, sql, [{"status": "Service LLM_LLAMA_3_1_8B_INSTRUCT successfully created."}])
    monkeypatch.setenv("SPCS_LLM_REPLAY_DIR", str(replay_dir))
    code, data, _ = run(capsys, "render-custom", "--plan", str(plan_path), "--part", "service", "--execute", "--yes",
                        "--json")
    assert code == 0 and data["mode"] == "replay" and data["executed"] is True
    assert plan_file.load(plan_path)["snowflake"]["service_name"] == "LLM_LLAMA_3_1_8B_INSTRUCT"
    assert plan_file.load(plan_path)["custom_image"]["executed_parts"] == ["service"]  # `show` follows it


def test_test_call_returns_the_answer_rows(capsys, plan_path, tmp_path, monkeypatch):
    from spcs_llm.custom_image import render, settings

    d = settings.resolve(plan_file.load(plan_path))
    sql = render.statements(render.render_all(d)["08_test_call.sql"])[0]
    _record(tmp_path / "replay", sql, [{"answer": "ready"}])
    monkeypatch.setenv("SPCS_LLM_REPLAY_DIR", str(tmp_path / "replay"))
    code, data, _ = run(capsys, "render-custom", "--plan", str(plan_path), "--part", "test", "--execute", "--json")
    assert code == 0 and data["rows"] == [{"answer": "ready"}]


def test_image_build_dry_run_prints_the_amd64_build(capsys, plan_path):
    code, data, _ = run(capsys, "image", "build", "--plan", str(plan_path), "--dry-run", "--base-registry",
                        "docker.m.daocloud.io", "--pip-index-url", "https://pypi.tuna.tsinghua.edu.cn/simple", "--json")
    assert code == 0 and data["ran"] is False
    command = data["commands"][0]
    assert command.startswith("docker build --platform linux/amd64 -f ")
    assert f"-f {docker.DOCKERFILE}" in command
    assert "--build-arg BASE_REGISTRY=docker.m.daocloud.io" in command
    assert "--build-arg VLLM_IMAGE=vllm/vllm-openai:v0.20.2-cu129" in command
    assert "--build-arg PIP_INDEX_URL=https://pypi.tuna.tsinghua.edu.cn/simple" in command
    assert command.endswith(f"-t {data['local_image']} {docker.DOCKERFILE.parents[1]}")


def test_the_summary_explains_the_container_memory_against_the_workers_budget(capsys, plan_path):
    # walk china1: workers said "26 GiB memory" per instance, the deployment table "24 GiB": both right
    # (the container gets the budget minus /dev/shm and the stage volume), but the user had to ask
    budget = plan_file.load(plan_path)["workers"]["memory_requests_gib"]
    code, data, _ = run(capsys, "render-custom", "--plan", str(plan_path), "--json")
    assert code == 0 and data["container"]["budget_gib"] == budget > data["container"]["memory_gib"]
    for argv in (["--format", "prompt"], ["--part", "setup", "--dry-run"]):
        assert main(["render-custom", "--plan", str(plan_path), *argv]) == 0
        out = capsys.readouterr().out
        assert f"{data['container']['memory_gib']} GiB memory" in out and f"of the {budget} GiB per instance" in out


def test_image_build_for_a_china_plan_names_the_mirror_when_docker_hub_is_the_base(capsys, plan_path):
    # walk china1: a cn-northwest-1 plan's build printed BASE_REGISTRY=docker.io without a word
    code, data, _ = run(capsys, "image", "build", "--plan", str(plan_path), "--dry-run", "--json")
    assert code == 0 and data["notes"] == []  # the golden plan is us-west-2
    plan = plan_file.load(plan_path)
    plan_file.update(plan, "test", {"request.region": "cn-northwest-1"})
    plan_file.save(plan, plan_path)
    assert main(["image", "build", "--plan", str(plan_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "China region" in out and "--base-registry docker.m.daocloud.io" in out
    code, data, _ = run(capsys, "image", "build", "--plan", str(plan_path), "--dry-run", "--base-registry",
                        "registry.example.cn", "--json")
    assert code == 0 and data["notes"] == []  # a mirror chosen: nothing to say


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--pip-index-url", "https://user:secret@pypi.example.com/simple", "must not carry credentials"),
    ("--base-registry", "https://docker.io", "not a registry host"),
])
def test_image_build_refuses_bad_build_arguments(capsys, plan_path, flag, value, message):
    code, _, err = run(capsys, "image", "build", "--plan", str(plan_path), "--dry-run", flag, value)
    assert code == 2 and message in err
    assert "user:secret" not in err  # a credential in a build argument is never echoed


def test_missing_docker_is_an_environment_error(capsys, plan_path, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _, err = run(capsys, "image", "build", "--plan", str(plan_path))
    assert code == 3 and "docker is not on PATH" in err
    code, _, err = run(capsys, "image", "push", "--plan", str(plan_path), "--yes")
    assert code == 3 and "is not on PATH" in err


def test_push_needs_yes(capsys, plan_path):
    code, _, err = run(capsys, "image", "push", "--plan", str(plan_path))
    assert code == 2 and "needs --yes" in err


def _repository_rows(url: str) -> list[dict]:
    return [{"created_on": "2026-01-01T00:00:00", "name": "SPCS_LLM_IMAGES", "database_name": "LLM_DB",
             "schema_name": "SERVING", "repository_url": url, "owner": "LLM_DEPLOYER", "owner_role_type": "ROLE",
             "comment": None, "encryption": "SNOWFLAKE_SSE", "privatelink_repository_url": None}]


def test_push_dry_run_uses_the_recorded_repository_url(capsys, plan_path, tmp_path, monkeypatch):
    sql = "SHOW IMAGE REPOSITORIES LIKE 'SPCS_LLM_IMAGES' IN SCHEMA LLM_DB.SERVING"
    _record(tmp_path / "replay", sql, _repository_rows("ORG-ACCT.registry.snowflakecomputing.com/llm_db/serving/"
                                                       "spcs_llm_images"))
    monkeypatch.setenv("SPCS_LLM_REPLAY_DIR", str(tmp_path / "replay"))
    code, data, _ = run(capsys, "image", "push", "--plan", str(plan_path), "--dry-run", "--connection", "dev", "--json")
    assert code == 0 and data["ran"] is False
    remote = "org-acct.registry.snowflakecomputing.com/llm_db/serving/spcs_llm_images/" + data["local_image"]
    assert data["commands"] == ["snow spcs image-registry login --connection dev",
                                f"docker tag {data['local_image']} {remote}", f"docker push {remote}"]


def test_push_dry_run_without_a_recording_names_the_placeholder(capsys, plan_path):
    code, data, err = run(capsys, "image", "push", "--plan", str(plan_path), "--dry-run", "--json")
    assert code == 0 and data["repository_url"] is None
    assert "<repository_url of LLM_DB.SERVING.SPCS_LLM_IMAGES>" in data["commands"][1]
    assert "SHOW IMAGE REPOSITORIES LIKE 'SPCS_LLM_IMAGES' IN SCHEMA LLM_DB.SERVING;" in err


def _fake_tools(bin_dir: Path, log: Path, fail: str | None = None) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("docker", "snow"):
        script = bin_dir / tool
        code = 1 if fail == tool else 0
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\nexit {code}\n')
        script.chmod(0o755)


def test_push_runs_login_tag_push_in_order_and_records_the_push(capsys, plan_path, tmp_path, monkeypatch):
    url = "org-acct.registry.snowflakecomputing.com/llm_db/serving/spcs_llm_images"
    _record(tmp_path / "replay", "SHOW IMAGE REPOSITORIES LIKE 'SPCS_LLM_IMAGES' IN SCHEMA LLM_DB.SERVING",
            _repository_rows(url))
    monkeypatch.setenv("SPCS_LLM_REPLAY_DIR", str(tmp_path / "replay"))
    log = tmp_path / "tools.log"
    _fake_tools(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    code, data, _ = run(capsys, "image", "push", "--plan", str(plan_path), "--yes", "--json")
    assert code == 0 and data["ran"] is True
    image = data["local_image"]
    assert log.read_text().splitlines() == ["snow spcs image-registry login", f"docker tag {image} {url}/{image}",
                                            f"docker push {url}/{image}"]
    ci = yaml.safe_load(plan_path.read_text())["custom_image"]
    assert ci["repository_url"] == url and ci["image_pushed_at"]


def test_a_failing_tool_stops_the_push_with_exit_3(capsys, plan_path, tmp_path, monkeypatch):
    _record(tmp_path / "replay", "SHOW IMAGE REPOSITORIES LIKE 'SPCS_LLM_IMAGES' IN SCHEMA LLM_DB.SERVING",
            _repository_rows("h.registry.snowflakecomputing.com/llm_db/serving/spcs_llm_images"))
    monkeypatch.setenv("SPCS_LLM_REPLAY_DIR", str(tmp_path / "replay"))
    log = tmp_path / "tools.log"
    _fake_tools(tmp_path / "bin", log, fail="snow")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    code, _, err = run(capsys, "image", "push", "--plan", str(plan_path), "--yes")
    assert code == 3 and "snow spcs image-registry login` failed with exit code 1" in err
    assert log.read_text().splitlines() == ["snow spcs image-registry login"]  # no push after a failed login


def test_push_without_the_repository_says_how_to_create_it(capsys, plan_path, tmp_path, monkeypatch):
    _record(tmp_path / "replay", "SHOW IMAGE REPOSITORIES LIKE 'SPCS_LLM_IMAGES' IN SCHEMA LLM_DB.SERVING", [])
    (tmp_path / "replay" / replay.file_name("SHOW IMAGE REPOSITORIES LIKE 'SPCS_LLM_IMAGES' IN SCHEMA LLM_DB.SERVING")
     ).write_text(json.dumps({"rows": []}))
    monkeypatch.setenv("SPCS_LLM_REPLAY_DIR", str(tmp_path / "replay"))
    _fake_tools(tmp_path / "bin", tmp_path / "tools.log")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    code, _, err = run(capsys, "image", "push", "--plan", str(plan_path), "--yes")
    assert code == 3 and "render-custom --part setup --execute --yes" in err


def test_dockerfile_and_context_agree_with_the_pack():
    from spcs_llm.custom_image import settings

    text = docker.DOCKERFILE.read_text()
    assert f"ARG VLLM_IMAGE={settings.DEFAULT_VLLM_IMAGE}" in text
    assert "FROM --platform=linux/amd64 ${BASE_REGISTRY}/${VLLM_IMAGE}" in text
    assert "ARG PIP_INDEX_URL" in text and "ARG BASE_REGISTRY=docker.io" in text
    assert "COPY scripts/spcs_llm /opt/spcs-llm/spcs_llm" in text
    assert 'ENTRYPOINT ["python3", "/opt/spcs-llm/entrypoint.py"]' in text
    assert "PROXY_PORT=8080" in text and "WEIGHTS_CACHE_DIR=/weights" in text
    ignore = (docker.DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*"):][:3] == ["*", "!scripts/spcs_llm", "!model_image/entrypoint.py"]
    for copied in ("scripts/spcs_llm", "model_image/entrypoint.py"):
        assert (docker.DOCKERFILE.parents[1] / copied).exists()


def test_every_image_pull_follows_base_registry():
    """A `# syntax=` directive makes BuildKit pull a frontend image from docker.io whatever
    --base-registry says (it hangs in mainland China); every FROM must go through BASE_REGISTRY."""
    lines = docker.DOCKERFILE.read_text().splitlines()
    directives = [line for line in lines if line.replace(" ", "").lower().startswith("#syntax=")]
    assert directives == []
    froms = [line for line in lines if line.upper().startswith("FROM ")]
    assert froms and all("${BASE_REGISTRY}/" in line for line in froms)
