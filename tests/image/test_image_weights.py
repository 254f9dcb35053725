"""The weight cache against a local fake hub over real HTTP: the complete-marker, resume after a
partial download, source fallback order, redirect host checks, and the token never logged."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from fake_hub import model_files

from spcs_llm.custom_image import weights
from spcs_llm.custom_image.entrypoint import main, make_log, read_token
from spcs_llm.custom_image.weights import MARKER_NAME, SourceSpec, WeightsConfig, WeightsError

MODEL = "acme/tiny-model"
TOKEN = "hf_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"


class Lines:
    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def config(tmp_path: Path, sources: list[SourceSpec], **overrides) -> WeightsConfig:
    values = {"model_id": MODEL, "cache_dir": tmp_path / "cache", "sources": sources,
              "scratch_dir": tmp_path / "scratch", "backoff_cap_seconds": 0.01, "timeout": 5.0,
              "parallel_files": 2}
    values.update(overrides)
    return WeightsConfig(**values)


def hf(hub, name: str = "huggingface") -> SourceSpec:
    return SourceSpec(name=name, endpoint=hub.url, repo_id=MODEL, revision="main")


def ms(hub) -> SourceSpec:
    return SourceSpec(name="modelscope", endpoint=hub.url, repo_id=MODEL, revision="master")


def cached(cfg: WeightsConfig) -> dict[str, bytes]:
    root = cfg.model_dir
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.name != MARKER_NAME}


def test_downloads_once_then_uses_the_marker_without_network(make_hub, tmp_path):
    files, lfs = model_files()
    hub = make_hub(files=files, lfs=lfs)
    cfg = config(tmp_path, [hf(hub)])
    log = Lines()
    assert weights.ensure_weights(cfg, log) == cfg.model_dir
    expected = {k: v for k, v in files.items() if k != "pytorch_model.bin"}  # torch duplicate skipped
    assert cached(cfg) == expected
    marker = json.loads((cfg.model_dir / MARKER_NAME).read_text())
    assert marker["source"] == "huggingface" and marker["model_id"] == MODEL
    assert {f["path"] for f in marker["files"]} == set(expected)
    # LFS files went through the CDN redirect on another host name
    assert any(r.host.startswith("localhost") for r in hub.requests)
    hub.requests.clear()
    hub.down = True
    second = Lines()
    assert weights.ensure_weights(cfg, second) == cfg.model_dir
    assert hub.requests == []  # a valid marker means no request at all
    assert "weights found in the cache" in second.text


def test_no_marker_means_not_complete_even_if_files_exist(make_hub, tmp_path):
    files, lfs = model_files()
    hub = make_hub(files=files, lfs=lfs)
    cfg = config(tmp_path, [hf(hub)])
    cfg.model_dir.mkdir(parents=True)
    (cfg.model_dir / "config.json").write_bytes(files["config.json"])
    weights.ensure_weights(cfg, Lines())
    downloaded = [r.path for r in hub.requests if "/resolve/" in r.path]
    assert not any(p.endswith("/config.json") for p in downloaded), "a complete file is kept, not fetched again"
    assert (cfg.model_dir / MARKER_NAME).exists()


def test_marker_with_a_missing_file_is_not_trusted(make_hub, tmp_path):
    files, lfs = model_files()
    hub = make_hub(files=files, lfs=lfs)
    cfg = config(tmp_path, [hf(hub)])
    weights.ensure_weights(cfg, Lines())
    shard = sorted(lfs)[0]
    (cfg.model_dir / shard).unlink()
    hub.requests.clear()
    log = Lines()
    weights.ensure_weights(cfg, log)
    assert (cfg.model_dir / shard).read_bytes() == files[shard]
    fetched = [r.path for r in hub.requests if "/resolve/" in r.path]
    assert len(fetched) == 1 and fetched[0].endswith(shard)
    assert "missing" in log.text


def test_resumes_a_dropped_transfer_with_a_range_request(make_hub, tmp_path):
    files, lfs = model_files(shards=1, shard_bytes=400_000)
    shard = next(iter(lfs))
    hub = make_hub(files=files, lfs=lfs, drop_after={shard: 150_000})
    cfg = config(tmp_path, [hf(hub)])
    log = Lines()
    weights.ensure_weights(cfg, log)
    assert (cfg.model_dir / shard).read_bytes() == files[shard]
    blob = [r for r in hub.requests if r.path.startswith("/cdn/")]
    assert len(blob) == 2
    assert "range" not in blob[0].headers
    assert blob[1].headers["range"] == "bytes=150000-"
    assert "got 150000 of 400000 bytes" in log.text and "retry 1/4" in log.text
    assert not list((tmp_path / "scratch").rglob("*.part")), "scratch files are removed once copied"


def test_resume_across_runs_from_a_partial_scratch_file(make_hub, tmp_path):
    files, lfs = model_files(shards=1)
    shard = next(iter(lfs))
    hub = make_hub(files=files, lfs=lfs)
    cfg = config(tmp_path, [hf(hub)])
    partial = cfg.scratch_dir / "huggingface" / (shard + ".part")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(files[shard][:1000])  # left by an interrupted earlier run
    weights.ensure_weights(cfg, Lines())
    assert (cfg.model_dir / shard).read_bytes() == files[shard]
    blob = [r for r in hub.requests if r.path.startswith("/cdn/")]
    assert [r.headers.get("range") for r in blob] == ["bytes=1000-"]


def test_server_that_ignores_range_restarts_the_file(make_hub, tmp_path):
    files, lfs = model_files(shards=1)
    shard = next(iter(lfs))
    hub = make_hub(files=files, lfs=lfs, ignore_range=True)
    cfg = config(tmp_path, [hf(hub)])
    partial = cfg.scratch_dir / "huggingface" / (shard + ".part")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"garbage" * 10)
    weights.ensure_weights(cfg, Lines())
    assert (cfg.model_dir / shard).read_bytes() == files[shard]


def test_checksum_mismatch_fails_the_source(make_hub, tmp_path):
    files, lfs = model_files(shards=1)
    shard = next(iter(lfs))
    hub = make_hub(files=files, lfs=lfs, wrong_sha={shard})
    cfg = config(tmp_path, [hf(hub)], attempts=2)
    with pytest.raises(WeightsError, match="SHA-256 mismatch"):
        weights.ensure_weights(cfg, Lines())
    assert not (cfg.model_dir / MARKER_NAME).exists()
    assert not (cfg.model_dir / shard).exists()


def test_retries_temporary_errors(make_hub, tmp_path):
    files, lfs = model_files(shards=1)
    hub = make_hub(files=files, lfs=lfs, fail_status={"config.json": [503, 502]})
    cfg = config(tmp_path, [hf(hub)])
    log = Lines()
    weights.ensure_weights(cfg, log)
    assert (cfg.model_dir / "config.json").read_bytes() == files["config.json"]
    assert log.text.count("retry") == 2


def test_falls_back_to_the_next_source_in_order(make_hub, tmp_path):
    files, lfs = model_files()
    mirror = make_hub(files=files, lfs=lfs, down=True)
    modelscope = make_hub(files=files, lfs=lfs)
    never = make_hub(files=files, lfs=lfs)
    cfg = config(tmp_path, [hf(mirror, "hf-mirror"), ms(modelscope), hf(never)], attempts=2)
    log = Lines()
    weights.ensure_weights(cfg, log)
    assert json.loads((cfg.model_dir / MARKER_NAME).read_text())["source"] == "modelscope"
    assert cached(cfg)["model-00001-of-00002.safetensors"] == files["model-00001-of-00002.safetensors"]
    assert mirror.requests and modelscope.requests and not never.requests
    assert "source hf-mirror failed" in log.text and "trying the next source" in log.text
    # ModelScope's listing had a directory entry; it was skipped, not downloaded
    assert not (cfg.model_dir / "sub").exists()


def test_every_source_failing_names_each_failure(make_hub, tmp_path):
    a = make_hub(down=True)
    b = make_hub(files={"config.json": b"{}"}, repo="someone/else")
    cfg = config(tmp_path, [hf(a, "hf-mirror"), ms(b)], attempts=1)
    with pytest.raises(WeightsError) as err:
        weights.ensure_weights(cfg, Lines())
    assert "hf-mirror" in str(err.value) and "modelscope" in str(err.value)
    assert "HTTP 503" in str(err.value) and "HTTP 404" in str(err.value)


def test_gated_model_without_token_explains(make_hub, tmp_path):
    files, lfs = model_files(shards=1)
    hub = make_hub(files=files, lfs=lfs, token=TOKEN)
    cfg = config(tmp_path, [hf(hub)])
    with pytest.raises(WeightsError, match="HTTP 401.*gated or private"):
        weights.ensure_weights(cfg, Lines())


def test_token_goes_to_the_hub_only_never_to_the_cdn(make_hub, tmp_path):
    files, lfs = model_files(shards=1)
    hub = make_hub(files=files, lfs=lfs, token=TOKEN)
    cfg = config(tmp_path, [hf(hub)], token=TOKEN)
    weights.ensure_weights(cfg, Lines())
    assert cfg.model_dir.joinpath(MARKER_NAME).exists()
    for request in hub.requests:
        on_cdn = request.path.startswith("/cdn/")
        assert ("authorization" in request.headers) is (not on_cdn), request.path


def test_token_is_not_sent_to_a_mirror_unless_allowed(make_hub, tmp_path):
    files, lfs = model_files(shards=1)
    hub = make_hub(files=files, lfs=lfs)
    cfg = config(tmp_path, [hf(hub, "hf-mirror")], token=TOKEN)
    weights.ensure_weights(cfg, Lines())
    assert all("authorization" not in r.headers for r in hub.requests)


def test_redirect_to_a_host_outside_the_egress_rule_fails_with_the_host_named(make_hub, tmp_path):
    files, lfs = model_files(shards=1)
    hub = make_hub(files=files, lfs=lfs)
    cfg = config(tmp_path, [hf(hub)], allowed_hosts=frozenset({"127.0.0.1"}))
    with pytest.raises(WeightsError) as err:
        weights.ensure_weights(cfg, Lines())
    assert "redirected the download to localhost" in str(err.value)
    assert "--extra-egress-host localhost" in str(err.value)
    assert not any(r.path.startswith("/cdn/") for r in hub.requests)


def test_unsafe_paths_in_a_listing_are_refused(make_hub, tmp_path):
    hub = make_hub(files={"config.json": b"{}"}, listing_paths=["config.json", "../../etc/passwd"])
    cfg = config(tmp_path, [hf(hub)], attempts=1)
    with pytest.raises(WeightsError, match="unsafe file path"):
        weights.ensure_weights(cfg, Lines())
    assert not (tmp_path / "etc").exists()


def test_on_missing_fail_and_wait(make_hub, tmp_path):
    files, lfs = model_files(shards=1)
    hub = make_hub(files=files, lfs=lfs)
    failing = config(tmp_path, [hf(hub)], on_missing="fail")
    with pytest.raises(WeightsError, match="weight-cache job"):
        weights.ensure_weights(failing, Lines())
    assert hub.requests == []
    waiting = config(tmp_path, [hf(hub)], on_missing="wait", wait_poll_seconds=0.05)
    result = {}
    thread = threading.Thread(target=lambda: result.update(dir=weights.ensure_weights(waiting, Lines())))
    thread.start()
    # another writer (the cache job) completes the cache meanwhile
    weights.ensure_weights(config(tmp_path, [hf(hub)]), Lines())
    thread.join(5)
    assert result["dir"] == waiting.model_dir


def test_stop_while_waiting_raises_stopped(tmp_path):
    stop = threading.Event()
    stop.set()
    cfg = config(tmp_path, [], on_missing="wait", wait_poll_seconds=0.01)
    with pytest.raises(weights.Stopped):
        weights.ensure_weights(cfg, Lines(), stop)


def test_allow_and_ignore_patterns(make_hub, tmp_path):
    files, lfs = model_files()
    hub = make_hub(files=files, lfs=lfs)
    cfg = config(tmp_path, [hf(hub)], ignore_patterns=("tokenizer.json",))
    weights.ensure_weights(cfg, Lines())
    assert "tokenizer.json" not in cached(cfg)


def test_config_from_env_reads_the_spec_variables(tmp_path):
    env = {"MODEL_ID": MODEL, "WEIGHT_SOURCES": "hf-mirror,modelscope", "HF_ENDPOINT": "https://hf-mirror.com/",
           "MODELSCOPE_MODEL_ID": "LLM-Research/tiny", "WEIGHTS_CACHE_DIR": str(tmp_path),
           "WEIGHTS_ALLOWED_HOSTS": "hf-mirror.com,www.modelscope.cn", "WEIGHTS_ON_MISSING": "wait"}
    cfg = weights.config_from_env(env, None)
    assert [(s.name, s.endpoint, s.repo_id, s.revision) for s in cfg.sources] == [
        ("hf-mirror", "https://hf-mirror.com", MODEL, "main"),
        ("modelscope", "https://www.modelscope.cn", "LLM-Research/tiny", "master")]
    assert cfg.allowed_hosts == {"hf-mirror.com", "www.modelscope.cn"}
    assert cfg.model_dir == tmp_path / "acme--tiny-model"
    with pytest.raises(WeightsError, match="allowed: huggingface, hf-mirror, modelscope"):
        weights.config_from_env({"MODEL_ID": MODEL, "WEIGHT_SOURCES": "github"}, None)
    with pytest.raises(WeightsError, match="not in WEIGHTS_ALLOWED_HOSTS"):
        weights.config_from_env({"MODEL_ID": MODEL, "WEIGHTS_ALLOWED_HOSTS": "hf-mirror.com"}, None)


def test_token_from_env_or_file_and_never_in_logs(make_hub, tmp_path):
    files, lfs = model_files(shards=1)
    hub = make_hub(files=files, lfs=lfs, token="different-" + TOKEN, echo_token_in_errors=True)
    token_file = tmp_path / "secret_string"
    token_file.write_text(TOKEN + "\n")
    assert read_token({"HF_TOKEN_FILE": str(token_file)}) == TOKEN
    out = io.StringIO()
    env = {"MODEL_ID": MODEL, "WEIGHT_SOURCES": "huggingface", "HF_TOKEN": TOKEN,
           "WEIGHTS_CACHE_DIR": str(tmp_path / "cache"), "WEIGHTS_SCRATCH_DIR": str(tmp_path / "s"),
           "WEIGHTS_ATTEMPTS": "1"}
    # point "huggingface" at the fake hub (its endpoint is fixed): patch the catalog default
    from spcs_llm.custom_image import sources
    original = sources.SOURCES["huggingface"]
    sources.SOURCES["huggingface"] = type(original)(**{**original.__dict__, "default_endpoint": hub.url})
    try:
        code = main(["fetch-weights"], env=env, log=make_log(out), stop=threading.Event())
    finally:
        sources.SOURCES["huggingface"] = original
    text = out.getvalue()
    assert code == 1
    assert "HTTP 401" in text  # the hub's error body (which echoes the token) was logged...
    assert TOKEN not in text  # ...with the token masked
    assert "****" in text
