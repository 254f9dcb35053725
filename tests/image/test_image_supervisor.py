"""Process supervision with fake vLLM/proxy programs: a dying child stops the other and exits
non-zero with one line; SIGTERM stops the proxy first, then vLLM, within the budget; the
serve path hands vLLM the cached weights and keeps the HF token out of the children."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from spcs_llm.custom_image import vllm_command
from spcs_llm.custom_image.entrypoint import main, make_log
from spcs_llm.custom_image.supervisor import Supervisor
from spcs_llm.custom_image.weights import MARKER_NAME, write_marker

FAKE = r'''
import json, os, signal, subprocess, sys, time
name, log, mode = sys.argv[1], sys.argv[2], sys.argv[3]
def note(what):
    with open(log, "a") as f:
        f.write(f"{time.monotonic():.3f} {name} {what}\n")
def term(*_):
    note("term")
    if mode == "drain":
        time.sleep(0.4)
    note("exit")
    sys.exit(0)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(log + ".grandchild", "w") as f:
        f.write(str(child.pid))
else:
    signal.signal(signal.SIGTERM, term)
note("start " + json.dumps({"argv": sys.argv[4:], "hf_token": os.environ.get("HF_TOKEN"),
                            "backend": os.environ.get("PROXY_BACKEND_URL"),
                            "proxy_host": os.environ.get("PROXY_HOST")}))
if mode.startswith("exit"):
    time.sleep(0.2)
    sys.exit(int(mode[4:]))
while True:
    time.sleep(0.05)
'''


class Lines(list):
    def __call__(self, line: str) -> None:
        self.append(line)


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "fake_child.py"
    script.write_text(FAKE)
    log = tmp_path / "children.log"

    def argv(name: str, mode: str) -> list[str]:
        return [sys.executable, str(script), name, str(log), mode]

    argv.log = log
    return argv


def events(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [" ".join(line.split()[1:3]) for line in log.read_text().splitlines()]


def wait_for(predicate, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def started(log: Path, *names: str) -> bool:
    return all(f"{n} start" in events(log) for n in names)


def test_a_dying_child_stops_the_other_and_exits_with_its_code(fake):
    log = Lines()
    sup = Supervisor(log)
    sup.start("proxy", fake("proxy", "run"), dict(os.environ), grace=5)
    sup.start("vllm", fake("vllm", "exit3"), dict(os.environ), grace=5)
    assert sup.run(threading.Event()) == 3
    assert [line for line in log if "exited" in line] == [
        "vllm exited with code 3; stopping proxy and exiting with code 3"]
    assert "proxy term" in events(fake.log)
    assert all(c.process.poll() is not None for c in sup.children)


def test_a_child_exiting_cleanly_is_still_a_failure(fake):
    sup = Supervisor(Lines())
    sup.start("proxy", fake("proxy", "exit0"), dict(os.environ), grace=5)
    sup.start("vllm", fake("vllm", "run"), dict(os.environ), grace=5)
    assert sup.run(threading.Event()) == 1


def test_sigterm_stops_the_proxy_first_then_vllm(fake):
    log = Lines()
    sup = Supervisor(log, shutdown_budget=10)
    sup.start("proxy", fake("proxy", "drain"), dict(os.environ), grace=5)
    sup.start("vllm", fake("vllm", "run"), dict(os.environ), grace=5)
    wait_for(lambda: started(fake.log, "proxy", "vllm"))
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    began = time.monotonic()
    assert sup.run(stop) == 0
    assert time.monotonic() - began < 5
    order = [e for e in events(fake.log) if not e.endswith("start")]
    # vLLM keeps serving while the proxy drains its in-flight batches
    assert order == ["proxy term", "proxy exit", "vllm term", "vllm exit"]
    assert any(line.startswith("SIGTERM: stopping proxy then vllm") for line in log)


def test_a_child_ignoring_sigterm_is_killed_with_its_group_at_the_deadline(fake):
    log = Lines()
    sup = Supervisor(log, shutdown_budget=1.5)
    sup.start("proxy", fake("proxy", "run"), dict(os.environ), grace=5)
    sup.start("vllm", fake("vllm", "stubborn"), dict(os.environ), grace=5)
    wait_for(lambda: started(fake.log, "proxy", "vllm"))
    stop = threading.Event()
    stop.set()
    began = time.monotonic()
    assert sup.run(stop) == 0
    assert time.monotonic() - began < 3
    assert "vllm did not stop in time; killing it" in log
    grandchild = int(Path(str(fake.log) + ".grandchild").read_text())
    wait_for(lambda: not _alive(grandchild), timeout=5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still "exists"; treat it as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_a_command_that_cannot_start_is_one_clear_line(tmp_path, fake):
    sup = Supervisor(Lines())
    sup.start("proxy", fake("proxy", "run"), dict(os.environ), grace=5)
    with pytest.raises(RuntimeError, match="cannot start vllm"):
        sup.start("vllm", [str(tmp_path / "no-such-vllm")], dict(os.environ), grace=5)
    assert sup.children[0].process.poll() is not None  # the proxy was stopped


def _prefilled_cache(tmp_path: Path) -> Path:
    model_dir = tmp_path / "cache" / "acme--tiny-model"
    model_dir.mkdir(parents=True)
    (model_dir / "config.json").write_text("{}")
    write_marker(model_dir, {"model_id": "acme/tiny-model", "source": "huggingface",
                             "files": [{"path": "config.json", "size": 2, "sha256": None}], "total_bytes": 2})
    return model_dir


def test_serve_runs_vllm_on_the_cache_and_keeps_the_token_from_children(tmp_path, fake):
    model_dir = _prefilled_cache(tmp_path)
    token = "hf_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6"
    env = {**os.environ, "MODEL_ID": "acme/tiny-model", "HF_TOKEN": token, "WEIGHTS_CACHE_DIR": str(tmp_path / "cache"),
           "TENSOR_PARALLEL_SIZE": "2", "MAX_MODEL_LEN": "8192", "GPU_MEMORY_UTILIZATION": "0.9",
           "DTYPE": "bfloat16", "QUANTIZATION": "awq", "VLLM_EXTRA_ARGS": '["--max-num-seqs=64"]',
           "VLLM_COMMAND": json.dumps(fake("vllm", "exit7")), "PROXY_COMMAND": json.dumps(fake("proxy", "run"))}
    out = io.StringIO()
    code = main(["serve"], env=env, log=make_log(out), stop=threading.Event())
    assert code == 7
    starts = {line.split()[1]: json.loads(line.split(" start ", 1)[1])
              for line in fake.log.read_text().splitlines() if " start " in line}
    assert starts["vllm"]["argv"] == [
        str(model_dir), "--host", "127.0.0.1", "--port", "8000", "--served-model-name", "acme/tiny-model",
        "--tensor-parallel-size", "2", "--max-model-len", "8192", "--gpu-memory-utilization", "0.9",
        "--dtype", "bfloat16", "--quantization", "awq", "--max-num-seqs=64"]
    assert starts["vllm"]["hf_token"] is None and starts["proxy"]["hf_token"] is None
    assert starts["proxy"]["backend"] == "http://127.0.0.1:8000"
    text = out.getvalue()
    assert "weights found in the cache" in text
    assert "spcs-llm: vllm exited with code 7; stopping proxy and exiting with code 7" in text
    assert token not in text


def test_serve_copies_weights_to_local_disk_when_asked(tmp_path, fake):
    _prefilled_cache(tmp_path)
    env = {**os.environ, "MODEL_ID": "acme/tiny-model", "WEIGHTS_CACHE_DIR": str(tmp_path / "cache"),
           "WEIGHTS_LOCAL_COPY_DIR": str(tmp_path / "local"), "VLLM_COMMAND": json.dumps(fake("vllm", "exit1")),
           "PROXY_COMMAND": json.dumps(fake("proxy", "run"))}
    assert main(["serve"], env=env, log=Lines(), stop=threading.Event()) == 1
    vllm_start = next(line for line in fake.log.read_text().splitlines() if " vllm start " in line)
    local = tmp_path / "local" / "acme--tiny-model"
    assert json.loads(vllm_start.split(" start ", 1)[1])["argv"][0] == str(local)
    assert (local / "config.json").read_text() == "{}"
    assert not (local / MARKER_NAME).exists()


def test_fetch_weights_mode_exits_after_the_cache(tmp_path):
    _prefilled_cache(tmp_path)
    log = Lines()
    env = {"MODEL_ID": "acme/tiny-model", "WEIGHTS_CACHE_DIR": str(tmp_path / "cache")}
    assert main(["fetch-weights"], env=env, log=log, stop=threading.Event()) == 0
    assert log[-1].startswith("the weight cache is complete")


def test_bad_settings_exit_2_with_the_variable_named(tmp_path):
    _prefilled_cache(tmp_path)
    log = Lines()
    env = {"MODEL_ID": "acme/tiny-model", "WEIGHTS_CACHE_DIR": str(tmp_path / "cache"),
           "VLLM_EXTRA_ARGS": "--port 9000"}
    assert main(["serve"], env=env, log=log, stop=threading.Event()) == 2
    assert "VLLM_EXTRA_ARGS sets --port" in log[-1]
    assert main(["bogus"], env=env, log=log, stop=threading.Event()) == 2


@pytest.mark.parametrize(("env", "message"), [
    ({"DTYPE": "fp8"}, "DTYPE='fp8' is not valid"),
    ({"GPU_MEMORY_UTILIZATION": "1.5"}, "must be in (0, 1]"),
    ({"TENSOR_PARALLEL_SIZE": "two"}, "TENSOR_PARALLEL_SIZE='two' is not a whole number"),
    ({"VLLM_COMMAND": "vllm serve"}, "VLLM_COMMAND must be a JSON list"),
])
def test_vllm_argv_rejects_bad_values(env, message):
    with pytest.raises(vllm_command.CommandError) as err:
        vllm_command.vllm_argv({"MODEL_ID": "m", **env}, "/weights/m")
    assert message in str(err.value)


def test_vllm_argv_leaves_auto_values_to_vllm():
    argv = vllm_command.vllm_argv({"MODEL_ID": "m", "DTYPE": "auto", "QUANTIZATION": "none",
                                   "TRUST_REMOTE_CODE": "true"}, "/w")
    assert argv == ["vllm", "serve", "/w", "--host", "127.0.0.1", "--port", "8000", "--served-model-name", "m",
                    "--tensor-parallel-size", "1", "--trust-remote-code"]


def test_the_image_entrypoint_script_runs_from_a_checkout():
    import subprocess

    script = Path(__file__).resolve().parents[2] / "model_image" / "entrypoint.py"
    proc = subprocess.run([sys.executable, str(script), "bogus"], capture_output=True, text=True, timeout=30,
                          env={"PATH": os.environ.get("PATH", "")})
    assert proc.returncode == 2
    assert proc.stdout.startswith("spcs-llm: usage: entrypoint.py [serve|fetch-weights]")
