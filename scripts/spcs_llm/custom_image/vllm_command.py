"""The vLLM and proxy command lines, from the container's environment (stdlib only).

vLLM's own image starts the server as `vllm serve` (its Dockerfile ENTRYPOINT); the model is
the local cache directory and --served-model-name keeps the public model id, so clients and the
proxy's /health use the id they know. vLLM listens on loopback only: the proxy is the one door.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping

DEFAULT_VLLM_COMMAND = ("vllm", "serve")
DEFAULT_VLLM_PORT = 8000
DEFAULT_PROXY_PORT = 8080
VLLM_DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")
# Set by the entrypoint itself; an extra argument may not override them.
OWN_FLAGS = ("--host", "--port", "--served-model-name", "--tensor-parallel-size", "--model",
             "--max-model-len", "--gpu-memory-utilization", "--dtype", "--quantization", "--kv-cache-dtype",
             "--trust-remote-code")
_UNSET = ("", "auto", "none", "null")


class CommandError(ValueError):
    """A bad setting; the message names the variable and what is allowed."""


def env_int(env: Mapping[str, str], name: str, default: int | None, low: int = 1, high: int = 1 << 30,
            error: type[Exception] = CommandError) -> int | None:
    """An integer setting from the environment; a bad value raises `error` naming the variable."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise error(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise error(f"{name}={value} is outside {low}..{high}")
    return value


def _command(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> list[str]:
    raw = env.get(name, "").strip()
    if not raw:
        return list(default)
    try:
        value = json.loads(raw)
    except ValueError:
        raise CommandError(f"{name} must be a JSON list of strings, e.g. [\"vllm\", \"serve\"]") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise CommandError(f"{name} must be a non-empty JSON list of strings")
    return value


def extra_args(env: Mapping[str, str]) -> list[str]:
    """VLLM_EXTRA_ARGS: a JSON list (what the rendered spec writes) or a shell-style string."""
    raw = env.get("VLLM_EXTRA_ARGS", "").strip()
    if not raw:
        return []
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except ValueError:
            raise CommandError("VLLM_EXTRA_ARGS starts with '[' but is not a JSON list") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CommandError("VLLM_EXTRA_ARGS must be a JSON list of strings")
    else:
        value = shlex.split(raw)
    for arg in value:
        flag = arg.split("=", 1)[0].replace("_", "-")
        if flag in OWN_FLAGS:
            raise CommandError(f"VLLM_EXTRA_ARGS sets {flag}, which the entrypoint sets from its own variable; "
                               "use that variable instead (see model_image/README.md)")
    return value


def vllm_port(env: Mapping[str, str]) -> int:
    return env_int(env, "VLLM_PORT", DEFAULT_VLLM_PORT, 1, 65535)


def served_model_name(env: Mapping[str, str]) -> str:
    name = env.get("SERVED_MODEL_NAME", "").strip() or env.get("MODEL_ID", "").strip()
    if not name:
        raise CommandError("SERVED_MODEL_NAME (or MODEL_ID) is not set")
    return name


def vllm_argv(env: Mapping[str, str], model_path: str) -> list[str]:
    argv = _command(env, "VLLM_COMMAND", DEFAULT_VLLM_COMMAND) + [
        model_path, "--host", "127.0.0.1", "--port", str(vllm_port(env)),
        "--served-model-name", served_model_name(env),
        "--tensor-parallel-size", str(env_int(env, "TENSOR_PARALLEL_SIZE", 1, 1, 64)),
    ]
    max_len = env_int(env, "MAX_MODEL_LEN", None)
    if max_len is not None:
        argv += ["--max-model-len", str(max_len)]
    gmu = env.get("GPU_MEMORY_UTILIZATION", "").strip()
    if gmu:
        try:
            value = float(gmu)
        except ValueError:
            raise CommandError(f"GPU_MEMORY_UTILIZATION={gmu!r} is not a number") from None
        if not 0 < value <= 1:
            raise CommandError(f"GPU_MEMORY_UTILIZATION={value} must be in (0, 1]")
        argv += ["--gpu-memory-utilization", gmu]
    dtype = env.get("DTYPE", "").strip().lower()
    if dtype and dtype not in VLLM_DTYPES:
        raise CommandError(f"DTYPE={dtype!r} is not valid; allowed: {', '.join(VLLM_DTYPES)}")
    if dtype not in _UNSET:
        argv += ["--dtype", dtype]
    for var, flag in (("QUANTIZATION", "--quantization"), ("KV_CACHE_DTYPE", "--kv-cache-dtype")):
        value = env.get(var, "").strip()
        if value.lower() not in _UNSET:
            argv += [flag, value]
    if env.get("TRUST_REMOTE_CODE", "").strip().lower() in ("1", "true", "yes"):
        argv.append("--trust-remote-code")
    return argv + extra_args(env)


def proxy_argv(env: Mapping[str, str]) -> list[str]:
    return _command(env, "PROXY_COMMAND", (sys.executable, "-m", "spcs_llm.proxy"))


def proxy_env(env: Mapping[str, str]) -> dict[str, str]:
    """The proxy's variables: its backend is this container's vLLM; it listens on all interfaces."""
    out = dict(env)
    out["PROXY_BACKEND_URL"] = f"http://127.0.0.1:{vllm_port(env)}"
    out.setdefault("PROXY_HOST", "0.0.0.0")
    out.setdefault("PROXY_PORT", str(DEFAULT_PROXY_PORT))
    out["SERVED_MODEL_NAME"] = served_model_name(env)
    return out
