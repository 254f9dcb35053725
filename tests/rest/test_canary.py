"""The canary-secret test: every REST-related command (access, usage, endpoint, gateway, the status
probe) and every bash block of the rest-access playbook runs with a known fake PAT in an env var and
in a file; the canary must appear in no stdout, stderr, log, plan or rendered file (the token files
themselves excepted: holding it is their job)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from rest_testkit import CANARY, NO_GRANT
from snowflake_testkit import prepare_offline, use_scenarios, write_plan

from spcs_llm import PACK_ROOT, cli, redact
from spcs_llm.skills_check.commands import logical_commands, run_block
from spcs_llm.skills_check.document import load_tree

SAVED = "canary-saved-7d6c5b4a3f2e-DO-NOT-PRINT"  # a token save-token receives on stdin
CANARIES = (CANARY, NO_GRANT, SAVED)
SERVED = "QWEN2_5_7B_INSTRUCT"


class Transcript:
    """Everything the commands printed, to be searched at the end."""

    def __init__(self):
        self.parts: list[tuple[str, str]] = []

    def add(self, what: str, *texts: str) -> None:
        self.parts.append((what, "\n".join(t or "" for t in texts)))

    def leaks(self) -> list[str]:
        return [what for what, text in self.parts for canary in CANARIES if canary in text]


@pytest.fixture
def world(monkeypatch, tmp_path, simulator):
    prepare_offline(monkeypatch, tmp_path)
    home = tmp_path / "home"
    (home / ".snowflake").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    use_scenarios(monkeypatch, tmp_path, "aws_ready")
    sim = simulator(model=SERVED)
    write_plan(tmp_path / "deployment.yaml", engine_path="registry", registry__source="remote",
               registry__model_name=SERVED.lower(), registry__service_fqn="LLM_DB.SERVING.LLM_SVC",
               registry__ingress_url=sim.url, snowflake__database="LLM_DB", snowflake__schema="SERVING",
               snowflake__service_name="LLM_SVC")
    token_file = home / ".snowflake" / "canary.pat"
    token_file.write_text(CANARY + "\n")
    token_file.chmod(0o600)
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    return tmp_path, home, sim, token_file


def _run(transcript: Transcript, capsys, *argv: str, stdin: str | None = None) -> int:
    """One command in this process, with redaction's memory cleared first: a command that prints
    the token without having registered it must not be rescued by an earlier command."""
    redact._registered.clear()
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = cli.main(list(argv))
    finally:
        sys.stdin = sys.__stdin__
    out = capsys.readouterr()
    transcript.add(" ".join(argv), out.out, out.err)
    return code


def test_no_command_and_no_file_shows_the_token(world, capsys):
    workdir, home, sim, token_file = world
    t = Transcript()
    sources = (("--pat-env", "SNOWFLAKE_PAT"), ("--pat-file", str(token_file)))

    # access: every action, in a dry run and (offline ones) for real
    for action in ("check", "caller", "grant"):
        _run(t, capsys, "access", action, "--dry-run")
        _run(t, capsys, "access", action, "--dry-run", "--json")
    _run(t, capsys, "access", "network", "--cidr", "203.0.113.7", "--dry-run", "--format", "prompt")
    assert _run(t, capsys, "access", "token", "--pat-file", str(token_file), "--format", "prompt") == 0
    assert _run(t, capsys, "access", "token", "--method", "keypair", "--json") == 0
    saved = home / ".snowflake" / "saved.pat"
    assert _run(t, capsys, "access", "save-token", "--pat-file", str(saved), "--json",
                stdin=json.dumps([{"token_name": "LLM_SVC_REST", "token_secret": SAVED}])) == 0
    assert saved.read_text().strip() == SAVED
    assert _run(t, capsys, "access", "save-token", "--pat-file", str(saved), stdin="not a token") == 2

    for flag, value in sources:
        # usage, every format
        for fmt in (("--json",), ("--format", "prompt"), ()):
            assert _run(t, capsys, "usage", flag, value, *fmt) == 0
        # endpoint test: answered, then refused (404 traced through the recorded account)
        # (--endpoint: `status` records the recorded account's ingress URL, which does not resolve here)
        at = ("--endpoint", sim.url)
        assert _run(t, capsys, "endpoint", "test", *at, flag, value, "--json") == 0
        assert _run(t, capsys, "endpoint", "test", *at, flag, value, "--stream") == 0
        assert _run(t, capsys, "endpoint", "bench", *at, flag, value, "--requests", "2", "--concurrency", "2",
                    "--json") == 0
        assert _run(t, capsys, "gateway", "--check", *at, flag, value) == 0
        # the status probe: a real chat request with the token
        _run(t, capsys, "status", flag, value, "--json")
    os.environ["SNOWFLAKE_PAT"] = NO_GRANT
    try:
        refused = ("--pat-env", "SNOWFLAKE_PAT")  # (the plan's rest.pat_file would win otherwise)
        assert _run(t, capsys, "endpoint", "test", "--endpoint", sim.url, *refused, "--retries", "0", "--json") == 3
        _run(t, capsys, "status", *refused)
    finally:
        os.environ["SNOWFLAKE_PAT"] = CANARY

    t.add("gateway process (file)", *_gateway_process(workdir, sim, ["--pat-file", str(token_file)]))
    t.add("gateway process (env)", *_gateway_process(workdir, sim, ["--pat-env", "SNOWFLAKE_PAT"]))

    assert t.leaks() == [], f"the token appeared in the output of: {t.leaks()}"
    checked = _assert_no_file_holds_it(workdir, exempt={token_file, saved})
    assert {"deployment.yaml", "statements.log"} <= checked, checked


def _gateway_process(workdir: Path, sim, source: list[str]) -> tuple[str, str]:
    """`spcs-llm gateway` as its own process, one OpenAI SDK request through it, then SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "spcs_llm.cli", "gateway", "--endpoint", sim.url, *source,
                             "--port", "0"],
                            cwd=workdir, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    err_lines = []
    try:
        deadline, base = time.monotonic() + 20, None
        while time.monotonic() < deadline and base is None:
            line = proc.stderr.readline()
            err_lines.append(line)
            if "gateway listening" in line:
                base = line.split(": ", 1)[1].strip()
            elif not line and proc.poll() is not None:
                break
        assert base, "".join(err_lines)
        client = openai.OpenAI(base_url=base, api_key=CANARY, max_retries=0)  # a client sending the PAT as Bearer
        reply = client.chat.completions.create(model=SERVED, messages=[{"role": "user", "content": "hi"}],
                                               max_tokens=2)
        assert reply.choices[0].message.content
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    return out, "".join(err_lines) + err


def _assert_no_file_holds_it(root: Path, exempt: set[Path]) -> set[str]:
    """Every file under root (the recorded responses aside) is free of the token; returns the names read."""
    checked = set()
    for path in root.rglob("*"):
        if not path.is_file() or path in exempt or "replay" in path.parts:
            continue
        data = path.read_bytes()
        checked.add(path.name)
        for canary in CANARIES:
            assert canary.encode() not in data, f"{path} holds the token"
    return checked


def test_playbook_bash_blocks_never_show_the_token(tmp_path):
    """Each bash block of rest-access, as the playbook tests run it, with the canary in $SNOWFLAKE_PAT
    and in a file under HOME."""
    from tests.playbooks.conftest import isolated_env

    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    # the playbook runs after a deployment (its parent in the tests is deploy-registry): a deployed plan
    write_plan(work / "deployment.yaml", engine_path="registry", registry__source="remote",
               registry__model_name=SERVED.lower(), registry__service_fqn="LLM_DB.SERVING.LLM_SVC")
    (home / ".snowflake").mkdir(parents=True)
    token_file = home / ".snowflake" / "spcs-llm-llm_svc.pat"
    token_file.write_text(CANARY + "\n")
    token_file.chmod(0o600)
    env = {**isolated_env(home), "SNOWFLAKE_PAT": CANARY}
    playbook = load_tree(PACK_ROOT / "skills" / "spcs-llm")["rest-access/SKILL.md"]
    blocks = [b for b in playbook.blocks if b.lang in ("bash", "sh", "shell")]
    assert len(blocks) >= 5
    for block in blocks:
        result = run_block(logical_commands(block.text, block.line + 1), work, env)
        assert result.ok, result.output[-2000:]
        assert CANARY not in result.output, f"block at line {block.line} printed the token"
    assert "deployment.yaml" in _assert_no_file_holds_it(tmp_path, exempt={token_file})  # the plan was read
