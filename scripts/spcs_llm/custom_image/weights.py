"""The weight cache: find complete weights on the stage mount, or download them there once.

Layout: <cache_dir>/<org>--<name>/ holds the repository files; the complete-marker
<model dir>/.spcs-llm-complete.json is written only after every file is in place with the
listed size (and SHA-256 where the hub gives one). A start that finds a valid marker makes no
network request at all.

Snowflake stage volumes accept only sequential writes of new files (no appends, random writes
or atomic renames: "Using Snowflake stage volumes with services"), so each file is downloaded
to a local scratch file first, where an interrupted transfer resumes with an HTTP Range
request, then copied to the cache in one sequential pass. Files already in the cache with the
right size are kept, so a restart continues where the last run stopped.

Sources are tried in order (e.g. hf-mirror, then ModelScope); a source that fails (listing,
auth, a file that keeps failing) hands over to the next. Stdlib only: runs inside the image.
"""

from __future__ import annotations

import fnmatch
import hashlib
import http.client
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from .fetch import FetchError, open_url, status_error
from .hubs import Hub, RemoteFile
from .sources import SOURCES, endpoint_for, host_of
from .vllm_command import env_int

MARKER_NAME = ".spcs-llm-complete.json"
MARKER_VERSION = 1
ON_MISSING = ("download", "wait", "fail")
CHUNK = 8 * 1024 * 1024
COPY_CHUNK = 16 * 1024 * 1024
# Formats vLLM does not load from a Hugging Face-style directory, or duplicates of safetensors.
DEFAULT_IGNORE = ("*.gguf", "*.onnx", "*.onnx_data", "*.msgpack", "*.h5", "*.tflite", "*.ot", "*.mlmodel")
TORCH_DUPLICATES = ("*.bin", "*.pt", "*.pth", "*.ckpt")

Log = Callable[[str], None]


class WeightsError(Exception):
    """The weights cannot be made available; the message is the one log line that says why."""


class Stopped(Exception):
    """SIGTERM arrived while waiting or downloading."""


@dataclass(frozen=True)
class SourceSpec:
    name: str  # a key of sources.SOURCES
    endpoint: str
    repo_id: str
    revision: str


@dataclass
class WeightsConfig:
    model_id: str
    cache_dir: Path
    sources: list[SourceSpec]
    scratch_dir: Path
    token: str | None = None
    token_to_mirror: bool = False  # send the HF token to a mirror too (it is a third party)
    allowed_hosts: frozenset[str] | None = None
    on_missing: str = "download"
    allow_patterns: tuple[str, ...] = ()
    ignore_patterns: tuple[str, ...] = ()
    parallel_files: int = 4
    attempts: int = 5
    timeout: float = 60.0
    wait_poll_seconds: float = 30.0
    backoff_cap_seconds: float = 30.0

    @property
    def model_dir(self) -> Path:
        return self.cache_dir / model_dir_name(self.model_id)


@dataclass
class _Progress:
    total_files: int
    done_files: int = 0
    bytes_downloaded: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def model_dir_name(model_id: str) -> str:
    """'Qwen/Qwen2.5-7B-Instruct' -> 'Qwen--Qwen2.5-7B-Instruct' (one directory level)."""
    name = model_id.strip().replace("/", "--")
    if not name or name.startswith(".") or any(c in name for c in "\\\x00") or ".." in name.split("--"):
        raise WeightsError(f"model id {model_id!r} cannot name a cache directory")
    return name


# --- the marker ------------------------------------------------------------------------------

def read_marker(model_dir: Path, model_id: str, log: Log | None = None) -> dict | None:
    """The marker if it is valid and every file it lists is present with its size, else None."""
    path = model_dir / MARKER_NAME
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        _say(log, f"ignoring an unreadable complete-marker {path}: {err}")
        return None
    if not isinstance(marker, dict) or marker.get("model_id") != model_id or not isinstance(marker.get("files"), list):
        _say(log, f"ignoring a complete-marker for another model or version at {path}")
        return None
    for entry in marker["files"]:
        try:
            actual = (model_dir / entry["path"]).stat().st_size
        except (OSError, KeyError, TypeError):
            _say(log, f"the complete-marker lists {entry!r:.120}, which is missing; completing the download")
            return None
        if entry.get("size") is not None and actual != entry["size"]:
            _say(log, f"{entry['path']} has {actual} bytes, the marker says {entry['size']}; completing the download")
            return None
    return marker


def write_marker(model_dir: Path, marker: dict) -> None:
    path = model_dir / MARKER_NAME
    path.unlink(missing_ok=True)  # stage mounts cannot overwrite a file in place
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(marker, handle, indent=1)
        handle.write("\n")


# --- selection -------------------------------------------------------------------------------

def select_files(files: list[RemoteFile], allow: tuple[str, ...] = (),
                 ignore: tuple[str, ...] = ()) -> list[RemoteFile]:
    """The files vLLM needs: all, minus other formats, minus torch duplicates of safetensors."""
    skip = list(DEFAULT_IGNORE) + list(ignore)
    if any(f.path.endswith(".safetensors") for f in files):
        skip += TORCH_DUPLICATES
    out = []
    for f in files:
        if allow and not any(fnmatch.fnmatch(f.path, p) for p in allow):
            continue
        if any(fnmatch.fnmatch(f.path, p) or fnmatch.fnmatch(f.path.rsplit("/", 1)[-1], p) for p in skip):
            continue
        out.append(f)
    return out


# --- the download ----------------------------------------------------------------------------

def ensure_weights(config: WeightsConfig, log: Log, stop: threading.Event | None = None) -> Path:
    """The model directory with complete weights; downloads them first if needed."""
    stop = stop or threading.Event()
    if config.on_missing not in ON_MISSING:
        raise WeightsError(f"WEIGHTS_ON_MISSING={config.on_missing!r} is not valid; allowed: {', '.join(ON_MISSING)}")
    model_dir = config.model_dir
    marker = read_marker(model_dir, config.model_id, log)
    if marker:
        log(f"weights found in the cache: {model_dir} ({len(marker['files'])} files, "
            f"{_gib(marker.get('total_bytes', 0))}, from {marker.get('source')} at {marker.get('completed_at')})")
        return model_dir
    if config.on_missing == "fail":
        raise WeightsError(f"no complete weights in {model_dir} (no valid {MARKER_NAME}) and WEIGHTS_ON_MISSING=fail; "
                           "run the weight-cache job first")
    if config.on_missing == "wait":
        return _wait_for_marker(config, log, stop)
    if not config.sources:
        raise WeightsError("no weight sources configured (WEIGHT_SOURCES is empty)")
    failures = []
    for spec in config.sources:
        _check_stop(stop)
        try:
            return _download_from(spec, config, log, stop)
        except FetchError as err:
            failures.append(f"{spec.name} ({spec.endpoint}): {err}")
            log(f"source {spec.name} failed: {err}")
            if spec is not config.sources[-1]:
                log("trying the next source")
    raise WeightsError("every weight source failed: " + " | ".join(failures))


def _wait_for_marker(config: WeightsConfig, log: Log, stop: threading.Event) -> Path:
    log(f"waiting for the weight-cache job to complete {config.model_dir} (WEIGHTS_ON_MISSING=wait)")
    while True:
        if stop.wait(config.wait_poll_seconds):
            raise Stopped()
        marker = read_marker(config.model_dir, config.model_id)
        if marker:
            log(f"weights are complete in {config.model_dir}")
            return config.model_dir
        log(f"still no complete-marker in {config.model_dir}; checking again in {config.wait_poll_seconds:.0f} s")


def _hub(spec: SourceSpec, config: WeightsConfig) -> Hub:
    source = SOURCES[spec.name]
    trusted = spec.name == "huggingface" or (config.token_to_mirror and spec.name == "hf-mirror")
    token = config.token if trusted else None
    return Hub(source=spec.name, protocol=source.protocol, endpoint=spec.endpoint, repo_id=spec.repo_id,
               revision=spec.revision, token=token, allowed_hosts=config.allowed_hosts, timeout=config.timeout)


def _download_from(spec: SourceSpec, config: WeightsConfig, log: Log, stop: threading.Event) -> Path:
    hub = _hub(spec, config)
    log(f"listing {spec.repo_id}@{spec.revision} on {spec.name} ({spec.endpoint})")
    listed = _with_retries(lambda: hub.list_files(), config, log, stop, f"listing on {spec.name}")
    files = select_files(listed, config.allow_patterns, config.ignore_patterns)
    if not files:
        raise FetchError(f"{spec.repo_id}@{spec.revision} lists no files to download "
                         f"({len(listed)} listed, all filtered out)", retryable=False)
    total = sum(f.size or 0 for f in files)
    log(f"{len(files)} files, {_gib(total)} to {config.model_dir} (scratch {config.scratch_dir})")
    config.model_dir.mkdir(parents=True, exist_ok=True)
    config.scratch_dir.mkdir(parents=True, exist_ok=True)
    progress = _Progress(total_files=len(files))
    abort = threading.Event()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, config.parallel_files), thread_name_prefix="weights") as pool:
        futures = [pool.submit(_one_file, hub, f, config, log, stop, abort, progress) for f in files]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [fut for fut in done if fut.exception() is not None]
        if failed:
            abort.set()
            wait(futures)
            raise failed[0].exception()
    elapsed = max(time.monotonic() - started, 1e-6)
    marker = {
        "marker_version": MARKER_VERSION, "model_id": config.model_id, "source": spec.name,
        "endpoint": spec.endpoint, "repo_id": spec.repo_id, "revision": spec.revision,
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files],
        "total_bytes": total, "completed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_marker(config.model_dir, marker)
    log(f"weights complete: {len(files)} files, {_gib(total)}, {_gib(progress.bytes_downloaded)} downloaded "
        f"in {elapsed:.0f} s; wrote {MARKER_NAME}")
    return config.model_dir


def _one_file(hub: Hub, remote: RemoteFile, config: WeightsConfig, log: Log, stop: threading.Event,
              abort: threading.Event, progress: _Progress) -> None:
    final = config.model_dir / remote.path
    if remote.size is not None and final.is_file() and final.stat().st_size == remote.size:
        _count(progress, 0)
        return
    scratch = config.scratch_dir / hub.source / (remote.path + ".part")  # never mix sources' bytes
    began = time.monotonic()
    fetched = _with_retries(lambda: _fetch_to_scratch(hub, remote, scratch, stop, abort), config, log, stop,
                            remote.path, abort)
    _copy_into_cache(scratch, final, remote)
    scratch.unlink(missing_ok=True)
    seconds = max(time.monotonic() - began, 1e-6)
    done = _count(progress, fetched)
    log(f"[{done}/{progress.total_files}] {remote.path} {_gib(remote.size or final.stat().st_size)} "
        f"in {seconds:.0f} s ({fetched / seconds / 2**20:.0f} MiB/s)")


def _count(progress: _Progress, fetched: int) -> int:
    with progress.lock:
        progress.done_files += 1
        progress.bytes_downloaded += fetched
        return progress.done_files


def _with_retries(action, config: WeightsConfig, log: Log, stop: threading.Event, what: str,
                  abort: threading.Event | None = None):
    attempt = 0
    while True:
        attempt += 1
        _check_stop(stop, abort)
        try:
            return action()
        except FetchError as err:
            if not err.retryable or attempt >= config.attempts:
                raise FetchError(f"{what}: {err}", status=err.status, retryable=False) from None
            delay = min(config.backoff_cap_seconds, 2 ** (attempt - 1))
            log(f"{what}: {err}; retry {attempt}/{config.attempts - 1} in {delay:.0f} s")
            if stop.wait(delay):
                raise Stopped() from None


def _fetch_to_scratch(hub: Hub, remote: RemoteFile, scratch: Path, stop: threading.Event,
                      abort: threading.Event) -> int:
    """Download (or resume) one file into scratch; returns the bytes fetched by this attempt.
    Verifies size and SHA-256 when the listing gives them."""
    scratch.parent.mkdir(parents=True, exist_ok=True)
    have = scratch.stat().st_size if scratch.exists() else 0
    if remote.size is not None and have > remote.size:
        scratch.unlink()
        have = 0
    digest = hashlib.sha256()
    if have and remote.sha256:
        with open(scratch, "rb") as existing:
            for block in iter(lambda: existing.read(CHUNK), b""):
                digest.update(block)
    fetched = 0
    if remote.size is None or have < remote.size:
        headers = {"Range": f"bytes={have}-"} if have else {}
        response = open_url(hub.file_url(remote.path), headers=headers, **hub.request_options)
        if response.status == 416 and have and remote.size is None:
            response.close()
        elif response.status not in (200, 206):
            raise status_error(response, f"GET {remote.path} from {hub.source}")
        else:
            if response.status == 200 and have:  # the server ignored Range: start again
                have, digest = 0, hashlib.sha256()
            mode = "ab" if response.status == 206 else "wb"
            try:
                with open(scratch, mode) as out:
                    while True:
                        _check_stop(stop, abort)
                        try:
                            block = response.read(CHUNK)
                        except (OSError, ValueError, http.client.HTTPException) as err:
                            raise FetchError(f"connection lost after {have + fetched} bytes ({err})") from None
                        if not block:
                            break
                        out.write(block)
                        if remote.sha256:
                            digest.update(block)
                        fetched += len(block)
            finally:
                response.close()
    size = scratch.stat().st_size
    if remote.size is not None and size != remote.size:
        raise FetchError(f"got {size} of {remote.size} bytes, the transfer was cut short (resuming)")
    if remote.sha256 and digest.hexdigest() != remote.sha256:
        scratch.unlink(missing_ok=True)
        raise FetchError(f"SHA-256 mismatch (expected {remote.sha256[:12]}..., "
                         f"got {digest.hexdigest()[:12]}...); the partial file was discarded")
    return fetched


def _copy_into_cache(scratch: Path, final: Path, remote: RemoteFile) -> None:
    """One sequential write of a new file: the only kind of write a stage mount accepts."""
    final.parent.mkdir(parents=True, exist_ok=True)
    final.unlink(missing_ok=True)
    with open(scratch, "rb") as src, open(final, "wb") as dst:
        while True:
            block = src.read(COPY_CHUNK)
            if not block:
                break
            dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())
    expected = scratch.stat().st_size
    if final.stat().st_size != expected:
        raise WeightsError(f"{final}: wrote {final.stat().st_size} of {expected} bytes into the cache")


def _check_stop(stop: threading.Event, abort: threading.Event | None = None) -> None:
    if stop.is_set():
        raise Stopped()
    if abort is not None and abort.is_set():
        raise FetchError("cancelled: another file of this source failed", retryable=False)


def _say(log: Log | None, line: str) -> None:
    if log is not None:
        log(line)


def _gib(n: int | float) -> str:
    """A byte count for people: 512 B, 3.4 MiB, 14.96 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}" if unit == "GiB" else f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


# --- configuration from the environment ------------------------------------------------------

def config_from_env(env: dict[str, str], token: str | None) -> WeightsConfig:
    """WeightsConfig from the variables the rendered spec sets (documented in model_image/README.md)."""
    model_id = _required(env, "MODEL_ID")
    names = [n.strip() for n in env.get("WEIGHT_SOURCES", "huggingface").split(",") if n.strip()]
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise WeightsError(f"WEIGHT_SOURCES has {', '.join(unknown)}; allowed: {', '.join(SOURCES)}")
    specs = []
    for name in names:
        endpoint = endpoint_for(name, env.get("HF_ENDPOINT") or None, env.get("MODELSCOPE_ENDPOINT") or None)
        if name == "modelscope":
            repo, revision = env.get("MODELSCOPE_MODEL_ID") or model_id, env.get("MODELSCOPE_REVISION") or "master"
        else:
            repo, revision = model_id, env.get("MODEL_REVISION") or "main"
        specs.append(SourceSpec(name=name, endpoint=endpoint, repo_id=repo, revision=revision))
    hosts = env.get("WEIGHTS_ALLOWED_HOSTS", "").strip()
    allowed = frozenset(h.strip().lower() for h in hosts.split(",") if h.strip()) if hosts else None
    if allowed is not None:
        missing = [s.endpoint for s in specs if host_of(s.endpoint) not in allowed]
        if missing:
            raise WeightsError(f"source endpoint(s) {', '.join(missing)} are not in WEIGHTS_ALLOWED_HOSTS")
    return WeightsConfig(
        model_id=model_id,
        cache_dir=Path(env.get("WEIGHTS_CACHE_DIR", "/weights")),
        sources=specs,
        scratch_dir=Path(env.get("WEIGHTS_SCRATCH_DIR", "/tmp/spcs-llm-weights")),
        token=token,
        token_to_mirror=env.get("HF_TOKEN_TO_MIRROR", "").lower() in ("1", "true", "yes"),
        allowed_hosts=allowed,
        on_missing=env.get("WEIGHTS_ON_MISSING", "download"),
        allow_patterns=_patterns(env.get("WEIGHTS_ALLOW_PATTERNS", "")),
        ignore_patterns=_patterns(env.get("WEIGHTS_IGNORE_PATTERNS", "")),
        parallel_files=env_int(env, "WEIGHTS_PARALLEL_FILES", 4, 1, 32, WeightsError),
        attempts=env_int(env, "WEIGHTS_ATTEMPTS", 5, 1, 100, WeightsError),
    )


def _required(env: dict[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise WeightsError(f"{name} is not set")
    return value


def _patterns(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


