"""The container's main process end to end, without a GPU: model_image/entrypoint.py serve with a
prefilled weight cache, the real proxy (python -m spcs_llm.proxy) and a fake vLLM (the proxy's
FakeBackend behind vLLM's command line). The proxy becomes healthy, answers a service-function
batch, and SIGTERM stops everything cleanly within the budget."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from spcs_llm.custom_image.weights import write_marker

ROOT = Path(__file__).resolve().parents[2]
FAKE_VLLM = r'''
import argparse, asyncio, sys
from spcs_llm.proxy.fake_backend import FakeBackend
parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("--host")
parser.add_argument("--port", type=int)
parser.add_argument("--served-model-name")
args, _ = parser.parse_known_args()
print("fake vllm loading", args.model, flush=True)
async def serve():
    backend = FakeBackend(model=args.served_model_name, latency=0.05)
    await backend.start(args.port)
    await asyncio.Event().wait()
asyncio.run(serve())
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def test_serve_answers_a_batch_and_stops_on_sigterm(tmp_path):
    model_dir = tmp_path / "cache" / "acme--tiny-model"
    model_dir.mkdir(parents=True)
    (model_dir / "config.json").write_text("{}")
    write_marker(model_dir, {"model_id": "acme/tiny-model", "source": "huggingface",
                             "files": [{"path": "config.json", "size": 2}], "total_bytes": 2})
    fake = tmp_path / "fake_vllm.py"
    fake.write_text(FAKE_VLLM)
    proxy_port, vllm_port = _free_port(), _free_port()
    env = {"PATH": os.environ.get("PATH", ""), "MODEL_ID": "acme/tiny-model",
           "WEIGHTS_CACHE_DIR": str(tmp_path / "cache"), "VLLM_COMMAND": json.dumps([sys.executable, str(fake)]),
           "VLLM_PORT": str(vllm_port), "PROXY_PORT": str(proxy_port), "PROXY_HOST": "127.0.0.1",
           "PROXY_CONCURRENCY": "8", "PROXY_SHUTDOWN_GRACE": "2", "HF_TOKEN": "hf_" + "Q" * 30}
    proc = subprocess.Popen([sys.executable, str(ROOT / "model_image" / "entrypoint.py"), "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while _get(f"http://127.0.0.1:{proxy_port}/health") != 200:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the proxy never became healthy"
            time.sleep(0.1)
        body = json.dumps({"data": [[0, "hello"], [1, "world"]]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{proxy_port}/complete", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer == {"data": [[0, "echo: hello"], [1, "echo: world"]]}
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        elapsed = time.monotonic() - began
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read()
    assert code == 0, output
    assert elapsed < 28, elapsed
    assert "spcs-llm: weights found in the cache" in output
    assert "spcs-llm: SIGTERM: stopping proxy then vllm" in output
    assert "fake vllm loading " + str(model_dir) in output
    assert "QQQQQQQQ" not in output
    assert _get(f"http://127.0.0.1:{proxy_port}/health") == 0  # nothing listens any more
