"""Render the custom-image deployment (specs and SQL) from resolved settings; split SQL files
into statements for the access layer.

Files (in the order they are run):
  service_spec.yaml, cache_job_spec.yaml   the two specifications, for reading and diffing
  01_setup.sql        image repository, weight stage, egress network rule (deploying role)
  02_egress.sql       external access integration and its grant (CREATE INTEGRATION)
  03_cache_job.sql    CPU pool and the weight-cache job (CPU credits)
  04_wait_cache.sql   wait until the job is DONE
  05_service.sql      CREATE SERVICE (GPU credits)
  06_wait_service.sql wait until the service is RUNNING
  07_function.sql     service functions and grants
  08_test_call.sql    one call through the function
  09_upgrade_service.sql  ALTER SERVICE ... FROM SPECIFICATION (after a new image or plan change)
"""

from __future__ import annotations

import json

from ..errors import SpcsLlmError
from ..render import render
from . import settings
from .settings import CustomImage
from .spec_schema import check_spec

TEST_PROMPT = "Reply with one word: ready"
# part -> (file, template, kind): kind "execute" changes the account (needs --yes), "query" only reads.
PARTS: dict[str, tuple[str, str, str]] = {
    "setup": ("01_setup.sql", "setup.sql.j2", "execute"),
    "egress": ("02_egress.sql", "egress.sql.j2", "execute"),
    "cache-job": ("03_cache_job.sql", "cache_job.sql.j2", "execute"),
    "wait-cache": ("04_wait_cache.sql", "wait_cache.sql.j2", "query"),
    "service": ("05_service.sql", "service.sql.j2", "execute"),
    "wait-service": ("06_wait_service.sql", "wait_service.sql.j2", "query"),
    "function": ("07_function.sql", "function.sql.j2", "execute"),
    "test": ("08_test_call.sql", "test_call.sql.j2", "query"),
    "upgrade": ("09_upgrade_service.sql", "upgrade_service.sql.j2", "execute"),
}
SPEC_FILES = {"service_spec.yaml": "service_spec.yaml.j2", "cache_job_spec.yaml": "cache_job_spec.yaml.j2"}
# Parts that cost credits (compute) rather than only creating objects.
COSTLY = ("cache-job", "service", "upgrade")


def _weights_env(d: CustomImage, on_missing: str) -> dict[str, str]:
    env = {
        "MODEL_ID": d.model_id,
        "MODEL_REVISION": d.model_revision,
        "WEIGHT_SOURCES": ",".join(d.weight_sources),
        "WEIGHTS_CACHE_DIR": settings.CACHE_MOUNT,
        "WEIGHTS_ALLOWED_HOSTS": ",".join(d.egress_hosts),
        "WEIGHTS_ON_MISSING": on_missing,
    }
    if "hf-mirror" in d.weight_sources:
        env["HF_ENDPOINT"] = d.hf_mirror_endpoint
    if "modelscope" in d.weight_sources:
        env["MODELSCOPE_MODEL_ID"] = d.modelscope_model_id
        env["MODELSCOPE_REVISION"] = d.modelscope_revision
    return env


def service_env(d: CustomImage) -> dict[str, str]:
    """The vLLM container's variables (model_image/README.md documents each)."""
    env = _weights_env(d, d.weights_on_missing)
    env["WEIGHTS_LOCAL_COPY_DIR"] = settings.LOCAL_COPY_DIR
    env["SERVED_MODEL_NAME"] = d.model_id
    env["TENSOR_PARALLEL_SIZE"] = str(d.tensor_parallel_size)
    optional = {"MAX_MODEL_LEN": d.max_model_len, "GPU_MEMORY_UTILIZATION": d.gpu_memory_utilization,
                "DTYPE": d.dtype, "QUANTIZATION": d.quantization, "KV_CACHE_DTYPE": d.kv_cache_dtype}
    # "auto"/"none" mean "vLLM decides": no variable, as no flag
    env.update({key: str(value) for key, value in optional.items()
                if value is not None and str(value).lower() not in ("auto", "none", "")})
    if d.trust_remote_code:
        env["TRUST_REMOTE_CODE"] = "true"
    if d.vllm_extra_args:
        env["VLLM_EXTRA_ARGS"] = json.dumps(list(d.vllm_extra_args))
    env["PROXY_HOST"] = "0.0.0.0"
    env["PROXY_PORT"] = str(d.proxy_port)
    env["PROXY_CONCURRENCY"] = str(d.proxy_concurrency)
    return env


def cache_job_env(d: CustomImage) -> dict[str, str]:
    return _weights_env(d, "download")


# The spec's service role for the API endpoint when it is public (GRANT SERVICE ROLE <svc>!API_USER).
API_SERVICE_ROLE = "api_user"


def render_specs(d: CustomImage) -> dict[str, str]:
    common = {"d": d, "cache_mount": settings.CACHE_MOUNT}
    texts = {
        "service_spec.yaml": render("custom_image/service_spec.yaml.j2", env=service_env(d),
                                    health_path=settings.HEALTH_PATH, endpoint=settings.ENDPOINT_NAME,
                                    metric_groups=settings.METRIC_GROUPS, service_role=API_SERVICE_ROLE, **common),
        "cache_job_spec.yaml": render("custom_image/cache_job_spec.yaml.j2", env=cache_job_env(d), **common),
    }
    for name, text in texts.items():
        problems = validate_spec_text(text)
        if problems:
            raise SpcsLlmError(f"internal: the rendered {name} departs from the documented spec fields:\n  - "
                               + "\n  - ".join(problems), exit_code=3)
    return texts


def validate_spec_text(text: str) -> list[str]:
    import yaml

    if "$$" in text:
        return ["the specification contains '$$', which would end the SQL dollar-quoted string"]
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        return [f"not valid YAML: {err}"]
    return check_spec(doc)


def render_all(d: CustomImage) -> dict[str, str]:
    """file name -> text, for every file of the deployment."""
    specs = render_specs(d)
    context = {"d": d, "endpoint": settings.ENDPOINT_NAME, "function_path": settings.FUNCTION_PATH,
               "max_batch_retries": settings.FUNCTION_MAX_BATCH_RETRIES, "prompt": TEST_PROMPT}
    files = dict(specs)
    for part, (file_name, template, _) in PARTS.items():
        spec = specs["cache_job_spec.yaml"] if part == "cache-job" else specs["service_spec.yaml"]
        seconds = settings.WAIT_CACHE_SECONDS if part == "wait-cache" else settings.WAIT_SERVICE_SECONDS
        files[file_name] = render(f"custom_image/{template}", spec=spec, seconds=seconds, **context)
    return files


def statements(sql: str) -> list[str]:
    """Split a rendered SQL file into statements at ';' outside quotes, $$ blocks and comments."""
    out, current, i, n = [], [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("$$", i):
            end = sql.find("$$", i + 2)
            end = n if end < 0 else end + 2
            current.append(sql[i:end])
            i = end
        elif ch == "'":
            j = i + 1
            while j < n and sql[j] != "'":
                j += 2 if sql[j] == "\\" else 1
            current.append(sql[i:j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == ";":
            text = "".join(current).strip()
            if text:
                out.append(text)
            current, i = [], i + 1
        else:
            current.append(ch)
            i += 1
    text = "".join(current).strip()
    if text:
        out.append(text)
    return out
