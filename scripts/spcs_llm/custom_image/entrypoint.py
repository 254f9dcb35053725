"""The image's main process: weights, then vLLM and the proxy, supervised.

    entrypoint.py [serve]          weights from the cache (download if missing), then serve
    entrypoint.py fetch-weights    fill the weight cache and exit (the CPU job service)

Every line it prints starts with "spcs-llm:" and passes through redact(), and the HF token
(read from HF_TOKEN or the file named by HF_TOKEN_FILE, both filled from a Snowflake secret) is
registered as a secret and removed from the children's environment: vLLM loads a local
directory and never needs it. Variables: model_image/README.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from ..redact import redact, register_secret
from .supervisor import DEFAULT_SHUTDOWN_BUDGET, Supervisor
from .vllm_command import CommandError, proxy_argv, proxy_env, vllm_argv
from .weights import Stopped, WeightsError, config_from_env, ensure_weights, read_marker

MODES = ("serve", "fetch-weights")
TOKEN_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
EXIT_CONFIG = 2  # a setting is wrong: restarting will not help
EXIT_FAILED = 1


def make_log(stream=None) -> Callable[[str], None]:
    out = stream or sys.stdout
    lock = threading.Lock()

    def log(line: str) -> None:
        with lock:
            out.write(redact(f"spcs-llm: {line}") + "\n")
            out.flush()

    return log


def read_token(env: Mapping[str, str]) -> str | None:
    """The HF token from HF_TOKEN (a secret's envVarName) or HF_TOKEN_FILE (a directoryPath mount)."""
    for name in TOKEN_VARS:
        value = env.get(name, "").strip()
        if value:
            register_secret(value)
            return value
    path = env.get("HF_TOKEN_FILE", "").strip()
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise WeightsError(f"HF_TOKEN_FILE {path}: {err.strerror or err}") from None
        register_secret(value)
        return value or None
    return None


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in TOKEN_VARS}


def local_copy(model_dir: Path, model_id: str, env: Mapping[str, str], log, stop: threading.Event) -> Path:
    """Copy complete weights from the stage mount to local disk when WEIGHTS_LOCAL_COPY_DIR is set:
    vLLM reads safetensors with many small random reads, which a stage mount serves slowly.
    Falls back to the cache itself when the local disk is too small."""
    target = env.get("WEIGHTS_LOCAL_COPY_DIR", "").strip()
    marker = read_marker(model_dir, model_id)
    if not target or marker is None:
        return model_dir
    destination = Path(target) / model_dir.name
    try:
        for entry in marker["files"]:
            if stop.is_set():
                raise Stopped()
            source, copy = model_dir / entry["path"], destination / entry["path"]
            if copy.is_file() and copy.stat().st_size == source.stat().st_size:
                continue
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
    except OSError as err:
        log(f"cannot copy the weights to {destination} ({err.strerror or err}); vLLM loads them from {model_dir}")
        shutil.rmtree(destination, ignore_errors=True)
        return model_dir
    log(f"copied the weights to local disk: {destination}")
    return destination


def log_gpus(log) -> None:
    """One line with the GPUs and driver (the SPCS driver/CUDA version is not documented)."""
    if not shutil.which("nvidia-smi"):
        return
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.SubprocessError):
        return
    gpus = "; ".join(line.strip() for line in out.stdout.splitlines() if line.strip())
    if gpus:
        log(f"GPUs: {gpus}")


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None, log=None,
         stop: threading.Event | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ if env is None else env)
    log = log if log is not None else make_log()
    mode = argv[0] if argv else "serve"
    if mode not in MODES or len(argv) > 1:
        log(f"usage: entrypoint.py [{'|'.join(MODES)}]; got {' '.join(argv)!r}")
        return EXIT_CONFIG
    if stop is None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    try:
        config = config_from_env(env, read_token(env))
        model_dir = ensure_weights(config, log, stop)
    except Stopped:
        log("stopped before the weights were complete; a restart resumes the download")
        return 0
    except WeightsError as err:
        log(f"error: {err}")
        return EXIT_FAILED
    except OSError as err:
        log(f"error: the weight cache failed: {err}")
        return EXIT_FAILED
    if mode == "fetch-weights":
        log(f"the weight cache is complete: {model_dir}")
        return 0
    log_gpus(log)
    try:
        load_from = local_copy(model_dir, config.model_id, env, log, stop)
        children_env = child_environment(env)
        vllm = vllm_argv(children_env, str(load_from))
        proxy = proxy_argv(children_env)
        proxy_variables = proxy_env(children_env)
        budget = float(env.get("SHUTDOWN_BUDGET_SECONDS") or DEFAULT_SHUTDOWN_BUDGET)
        proxy_grace = float(proxy_variables.get("PROXY_SHUTDOWN_GRACE") or 20) + 2
    except Stopped:
        return 0
    except (CommandError, ValueError) as err:
        log(f"error: {err}")
        return EXIT_CONFIG
    supervisor = Supervisor(log, shutdown_budget=budget)
    try:
        supervisor.start("proxy", proxy, proxy_variables, grace=proxy_grace)
        supervisor.start("vllm", vllm, children_env, grace=budget)
    except RuntimeError as err:
        log(f"error: {err}")
        return EXIT_FAILED
    log(f"serving {proxy_variables['SERVED_MODEL_NAME']} from {load_from}: proxy on port "
        f"{proxy_variables['PROXY_PORT']}, vLLM on 127.0.0.1:{proxy_variables['PROXY_BACKEND_URL'].rsplit(':', 1)[1]}")
    return supervisor.run(stop)
