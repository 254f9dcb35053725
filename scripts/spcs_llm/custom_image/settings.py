"""Everything the custom-image spec and SQL need, resolved from the plan and checked once.

Names, sizes and counts come from the plan (the steps that own them wrote them there); the
custom_image.* fields this path owns get defaults here and are written back by render-custom,
so later steps (image push, the test call) read the same values. Every problem is an
SpcsLlmError naming the plan field and what is allowed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .. import __version__, catalog, plan_file
from ..checkpoints import require_deployable, vllm_quantization
from ..errors import SpcsLlmError
from ..render.identifiers import identifier, qualified_name, service_name
from . import sources
from .vllm_command import DEFAULT_PROXY_PORT, OWN_FLAGS, VLLM_DTYPES

DEFAULT_VLLM_IMAGE = "vllm/vllm-openai:v0.20.2-cu129"
DEFAULT_REPOSITORY = "SPCS_LLM_IMAGES"
DEFAULT_IMAGE_NAME = "spcs-llm-vllm"
DEFAULT_STAGE = "SPCS_LLM_WEIGHTS"
DEFAULT_CACHE_FAMILY = "CPU_X64_S"  # "available everywhere", China included (spcs_facts.md §2)
DEFAULT_PROXY_CONCURRENCY = 32  # the proxy's own default (spcs_llm/proxy/config.py)
ENDPOINT_NAME = "api"  # a spec name that is also a plain SQL identifier (ENDPOINT = api)
FUNCTION_PATH = "/complete"  # the proxy's service-function route
# Snowflake's retries of a batch answered 404/429/5xx (default 3; bundle 2025_02, BCR-1938). The proxy
# retries each row itself and keeps finished rows, so a retry only re-runs unfinished rows: cheap.
# 5 gives a restarting vLLM more of Snowflake's exponential backoff before a query fails.
FUNCTION_MAX_BATCH_RETRIES = 5
HEALTH_PATH = "/health"
CACHE_MOUNT = "/weights"
LOCAL_COPY_DIR = "/tmp/spcs-llm-model"
# The stage-mount sidecar's default limit (stageConfig.resources: limits memory 1Gi, cpu 0.5;
# "Using Snowflake stage volumes with services"), left out of each instance's memory budget.
STAGE_MOUNT_MEMORY_GIB = 1
MIN_CONTAINER_MEMORY_GIB = 4
LOG_LEVELS = ("INFO", "ERROR", "NONE")  # logExporters.eventTableConfig.logLevel (spcs_facts.md §5.4)
# system, system_limits, status, network; "storage" is collected from block volumes only (§4.2).
METRIC_GROUPS = ("system", "system_limits", "status", "network")
WAIT_CACHE_SECONDS = 3600
WAIT_SERVICE_SECONDS = 1800

_IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")  # Docker repository path component
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # Docker tag
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


@dataclass(frozen=True)
class Resources:
    node_family: str
    node_gpus: int
    node_memory_gib: float
    node_vcpu: float
    node_facts: str  # where the node numbers came from
    gpus: int
    instances_per_node: int
    budget_gib: int  # memory per instance (all containers, volumes, stage sidecar)
    memory_gib: int  # the vLLM container's request and limit
    cpu: float
    shm_gib: int


@dataclass(frozen=True)
class CustomImage:
    # Snowflake objects
    database: str
    schema: str
    compute_pool: str
    service_name: str
    role: str | None
    image_repository: str
    weights_stage: str
    network_rule: str
    eai: str
    function_name: str
    hf_secret: str | None
    cache_job_pool: str
    cache_job_name: str
    consumer_roles: tuple[str, ...]
    # image
    image_name: str
    image_tag: str
    vllm_base_image: str
    # model and weights
    model_id: str
    model_revision: str
    modelscope_model_id: str
    modelscope_revision: str
    weight_sources: tuple[str, ...]
    hf_mirror_endpoint: str
    egress_hosts: tuple[str, ...]
    weights_on_missing: str
    # vLLM
    tensor_parallel_size: int
    max_model_len: int | None
    gpu_memory_utilization: float | None
    dtype: str | None
    quantization: str | None
    kv_cache_dtype: str | None
    trust_remote_code: bool
    vllm_extra_args: tuple[str, ...]
    # serving
    proxy_port: int
    proxy_concurrency: int
    max_batch_rows: int
    min_instances: int
    max_instances: int
    log_level: str
    public_endpoint: bool
    resources: Resources
    cache_job_family: str
    cache_job_memory_gib: int
    cache_job_cpu: float
    credits_per_hour: float | None
    notes: tuple[str, ...] = field(default=())

    @property
    def image_path(self) -> str:
        """The image as a service spec names it: /db/schema/repository/image:tag (lower case)."""
        return (f"/{self.database.lower()}/{self.schema.lower()}/{self.image_repository.lower()}/"
                f"{self.image_name}:{self.image_tag}")

    @property
    def stage_path(self) -> str:
        return f"@{self.database}.{self.schema}.{self.weights_stage}"

    def plan_fields(self) -> dict[str, object]:
        """The custom_image.* values to write back to the plan."""
        return {
            "custom_image.service_name": self.service_name, "custom_image.image_repository": self.image_repository,
            "custom_image.image_name": self.image_name,
            "custom_image.image_tag": self.image_tag, "custom_image.image_url": self.image_path,
            "custom_image.vllm_base_image": self.vllm_base_image,
            "custom_image.weight_sources": list(self.weight_sources),
            "custom_image.hf_mirror_endpoint": self.hf_mirror_endpoint,
            "custom_image.modelscope_model_id": self.modelscope_model_id,
            "custom_image.weights_stage": self.weights_stage, "custom_image.hf_secret": self.hf_secret,
            "custom_image.network_rule": self.network_rule, "custom_image.eai": self.eai,
            "custom_image.egress_hosts": list(self.egress_hosts),
            "custom_image.function_name": self.function_name, "custom_image.max_batch_rows": self.max_batch_rows,
            "custom_image.proxy_concurrency": self.proxy_concurrency, "custom_image.proxy_port": self.proxy_port,
            "custom_image.cache_job_pool": self.cache_job_pool, "custom_image.cache_job_name": self.cache_job_name,
            "custom_image.shm_gib": self.resources.shm_gib, "custom_image.memory_gib": self.resources.memory_gib,
        }


def _ci(plan: dict, name: str, default=None):
    return plan_file.get(plan, f"custom_image.{name}", default)


def _ident(value: object, field_name: str) -> str:
    return identifier(value, field_name)


def is_china(plan: dict) -> bool:
    for key in ("request.region", "snowflake.region"):
        region = str(plan_file.get(plan, key, "")).lower().replace("_", "-")
        if region.startswith("cn-") or "cn-north" in region or "china" in region:
            return True
    return False


def default_service_name(model_id: str) -> str:
    """'Qwen/Qwen2.5-7B-Instruct' -> 'LLM_QWEN2_5_7B_INSTRUCT' (a DNS-safe plain identifier)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", model_id.rsplit("/", 1)[-1]).strip("_").upper()
    return ("LLM_" + slug)[:63].rstrip("_") or "LLM_SERVICE"


def default_shm_gib(tp: int) -> int:
    """/dev/shm for NCCL between tensor-parallel workers: 1 GiB at TP=1, 2 GiB per GPU + 2 above
    (10 GiB at TP=4, as Snowflake-Labs/spcs-templates llm/deepseek-r1 mounts for TP=4)."""
    return 1 if tp == 1 else 2 * tp + 2


def _node(plan: dict) -> tuple[str, int, float, float, str]:
    """The GPU node: live SHOW COMPUTE POOL INSTANCE FAMILIES facts win over the plan's selection,
    which wins over the catalog."""
    family = str(plan_file.require(plan, "selection.instance_family", "spcs-llm plan, then spcs-llm select")).upper()
    facts = {"gpu_count": plan_file.get(plan, "selection.gpu_count"),
             "memory_gib": plan_file.get(plan, "selection.node_memory_gib"),
             "vcpu": plan_file.get(plan, "selection.node_vcpu")}
    where = "selection.*"
    live = plan_file.get(plan, "snowflake.live_instance_family") or {}
    if str(live.get("name", "")).upper() == family:
        for key in facts:
            if live.get(key) is not None:
                facts[key] = live[key]
        where = "snowflake.live_instance_family (SHOW COMPUTE POOL INSTANCE FAMILIES)"
    if any(v is None for v in facts.values()):
        entry = catalog.family(family, plan_file.get(plan, "request.cloud"))
        facts = {"gpu_count": facts["gpu_count"] if facts["gpu_count"] is not None else entry.gpu_count,
                 "memory_gib": facts["memory_gib"] if facts["memory_gib"] is not None else entry.memory_gib,
                 "vcpu": facts["vcpu"] if facts["vcpu"] is not None else entry.vcpu}
        where += " + catalog"
    return family, int(facts["gpu_count"]), float(facts["memory_gib"]), float(facts["vcpu"]), where


def resources(plan: dict) -> Resources:
    family, node_gpus, node_mem, node_vcpu, where = _node(plan)
    gpus = plan_file.get(plan, "workers.gpu_requests") or plan_file.get(plan, "workers.tensor_parallel_size") \
        or plan_file.require(plan, "selection.tensor_parallel_size", "spcs-llm select")
    tp = plan_file.get(plan, "selection.tensor_parallel_size", gpus)
    if gpus != tp:
        raise SpcsLlmError(f"workers.gpu_requests is {gpus} but selection.tensor_parallel_size is {tp}; the "
                           "custom image runs one vLLM engine over all GPUs of a container, so they must match",
                           hint="re-run spcs-llm workers --engine custom-image --confirm after spcs-llm select")
    if not node_gpus:
        raise SpcsLlmError(f"{family} has no GPUs; the custom image needs a GPU instance family",
                           hint="choose a GPU family with spcs-llm select")
    if gpus < 1 or gpus > node_gpus:
        raise SpcsLlmError(f"{gpus} GPUs per instance do not fit {family}, which has {node_gpus}; "
                           f"allowed: 1..{node_gpus}")
    instances = node_gpus // gpus
    budget = plan_file.get(plan, "workers.memory_requests_gib")
    if budget is None:
        budget = math.floor(node_mem / instances) - 1
    budget = int(math.floor(budget))
    shm = _ci(plan, "shm_gib") or default_shm_gib(gpus)
    if not isinstance(shm, int) or shm < 1:
        raise SpcsLlmError(f"custom_image.shm_gib {shm!r} must be a whole number of GiB >= 1")
    memory = budget - shm - STAGE_MOUNT_MEMORY_GIB
    if memory < MIN_CONTAINER_MEMORY_GIB:
        raise SpcsLlmError(
            f"{family} leaves {memory} GiB for the vLLM container per instance ({budget} GiB budget - {shm} GiB "
            f"/dev/shm - {STAGE_MOUNT_MEMORY_GIB} GiB stage mount); at least {MIN_CONTAINER_MEMORY_GIB} GiB needed",
            hint="lower custom_image.shm_gib or choose a family with more memory")
    if (budget + 0.5) * instances > node_mem + 0.5:
        raise SpcsLlmError(f"{instances} instance(s) x {budget} GiB exceed the {node_mem:g} GiB of a {family} node "
                           f"({where})", hint="lower workers.memory_requests_gib (spcs-llm workers)")
    cpu = plan_file.get(plan, "workers.cpu_requests") or max(0.5, math.floor(node_vcpu / instances))
    if cpu * instances > node_vcpu:
        raise SpcsLlmError(f"{instances} instance(s) x {cpu} vCPU exceed the {node_vcpu:g} vCPU of a {family} node")
    return Resources(node_family=family, node_gpus=node_gpus, node_memory_gib=node_mem, node_vcpu=node_vcpu,
                     node_facts=where, gpus=gpus, instances_per_node=instances, budget_gib=budget, memory_gib=memory,
                     cpu=cpu, shm_gib=shm)


def _https_endpoint(url: object, field_name: str) -> str:
    parts = urlsplit(str(url))
    if parts.scheme != "https" or not parts.hostname or parts.query or (parts.path.strip("/")):
        raise SpcsLlmError(f"{field_name} {url!r} must be an https:// URL with a host and no path",
                           hint="for example https://hf-mirror.com")
    return f"https://{parts.netloc}"


def _hosts(values: object, field_name: str) -> tuple[str, ...]:
    out = []
    for host in values or ():
        text = str(host).strip().lower()
        if not _HOST.match(text):
            raise SpcsLlmError(f"{field_name}: {host!r} is not a full host name",
                               hint="host names only (no scheme, port or wildcard; SPCS egress rules need full "
                               "names), e.g. cdn.example.com")
        out.append(text)
    return tuple(out)


def _sources(plan: dict) -> tuple[str, ...]:
    names = _ci(plan, "weight_sources") or (["hf-mirror", "modelscope"] if is_china(plan) else ["huggingface"])
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    bad = [n for n in names if n not in sources.SOURCES]
    if bad or not names or len(set(names)) != len(names):
        raise SpcsLlmError(f"custom_image.weight_sources {names!r} is not valid; allowed (in order of preference, "
                           f"no repeats): {', '.join(sources.SOURCE_NAMES)}")
    return tuple(names)


# Flags the image sets from its own variables, and the plan value each must agree with.
_SIZING_FLAGS = ("--tensor-parallel-size", "--max-model-len", "--gpu-memory-utilization", "--dtype",
                 "--quantization", "--kv-cache-dtype", "--trust-remote-code")


def _vllm_extra(plan: dict, own: dict[str, object]) -> tuple[str, ...]:
    """selection.vllm_args minus the sizing flags the plan also records in its own fields (the plan
    step writes both): those reach vLLM through the image's variables. A sizing flag that disagrees
    with its field, or a flag the image owns (host, port, model name), is an error."""
    out = []
    for arg in plan_file.get(plan, "selection.vllm_args") or []:
        if not isinstance(arg, str) or not re.match(r"^--[a-z0-9][a-z0-9_-]*(=\S+)?$", arg):
            raise SpcsLlmError(f"selection.vllm_args item {arg!r} is not in the form --flag or --flag=value")
        flag, _, value = arg.partition("=")
        flag = flag.replace("_", "-")
        if flag in _SIZING_FLAGS:
            expected = own.get(flag)
            same = (value == "" and expected is True) or (expected is not None and str(expected) == value) \
                or (expected is None and value.lower() in ("auto", "none"))
            if not same:
                raise SpcsLlmError(f"selection.vllm_args item {arg!r} disagrees with the plan's own value "
                                   f"({expected!r})", hint="re-run spcs-llm select so that both agree")
            continue
        if flag in OWN_FLAGS:
            raise SpcsLlmError(f"selection.vllm_args item {arg!r} sets a flag the image sets itself",
                               hint="the image chooses host, port and served model name; remove it")
        out.append(arg)
    return tuple(out)


def _positive_int(value: object, field_name: str, low: int = 1, high: int = 1 << 20) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SpcsLlmError(f"{field_name} {value!r} must be a whole number in {low}..{high}")
    return value


def _cache_job_resources(plan: dict, family: str) -> tuple[int, float]:
    entry = catalog.family(family, plan_file.get(plan, "request.cloud"))
    if entry.is_gpu:
        raise SpcsLlmError(f"custom_image.cache_job_family {family} is a GPU family; the weight-cache job only "
                           "downloads, so a small CPU family is enough", hint=f"use {DEFAULT_CACHE_FAMILY}")
    memory = int(math.floor(entry.memory_gib)) - STAGE_MOUNT_MEMORY_GIB - 1
    if memory < 2:
        raise SpcsLlmError(f"{family} has {entry.memory_gib} GiB; the weight-cache job needs at least 4 GiB")
    return memory, max(0.5, float(math.floor(entry.vcpu)) - 0.5)


def resolve(plan: dict) -> CustomImage:
    """Check the plan and fill the custom_image defaults; raises on the first problem."""
    model_id = str(plan_file.require(plan, "model.id", "spcs-llm plan"))
    if not _MODEL_ID.match(model_id):
        raise SpcsLlmError(f"model.id {model_id!r} is not a hub repository id (owner/name)",
                           hint="the custom image downloads weights by repository id, e.g. Qwen/Qwen2.5-7B-Instruct")
    require_deployable(plan)  # model.id is the checkpoint that was sized (a quantized repo, not its base)
    database = _ident(plan_file.require(plan, "snowflake.database", "spcs-llm preflight"), "snowflake.database")
    schema = _ident(plan_file.require(plan, "snowflake.schema", "spcs-llm preflight"), "snowflake.schema")
    pool = _ident(plan_file.require(plan, "snowflake.compute_pool", "spcs-llm create-pool"), "snowflake.compute_pool")
    service = service_name(plan_file.get(plan, "snowflake.service_name") or _ci(plan, "service_name")
                           or default_service_name(model_id))
    role = plan_file.get(plan, "snowflake.role")
    role = _ident(role, "snowflake.role") if role else None
    res = resources(plan)
    names = {
        "image_repository": _ci(plan, "image_repository", DEFAULT_REPOSITORY),
        "weights_stage": _ci(plan, "weights_stage", DEFAULT_STAGE),
        "network_rule": _ci(plan, "network_rule", f"{service}_WEIGHTS_EGRESS"),
        "eai": _ci(plan, "eai", f"{service}_WEIGHTS_EAI"),
        "function_name": _ci(plan, "function_name", f"{service}_COMPLETE"),
        "cache_job_pool": _ci(plan, "cache_job_pool", "SPCS_LLM_CPU_POOL"),
        "cache_job_name": _ci(plan, "cache_job_name", f"{service}_WEIGHTS_JOB"),
    }
    names = {key: _ident(value, f"custom_image.{key}") for key, value in names.items()}
    hf_secret = _ci(plan, "hf_secret")
    if hf_secret:
        hf_secret = qualified_name(hf_secret, "custom_image.hf_secret")
        if hf_secret.count(".") == 0:
            hf_secret = f"{database}.{schema}.{hf_secret}"
    consumer_roles = tuple(_ident(r, "custom_image.consumer_roles") for r in _ci(plan, "consumer_roles", []) or [])
    image_name = str(_ci(plan, "image_name", DEFAULT_IMAGE_NAME))
    if not _IMAGE_NAME.match(image_name):
        raise SpcsLlmError(f"custom_image.image_name {image_name!r} is not a valid image name",
                           hint="lower-case letters, digits and single '.', '_' or '-' between them")
    base = str(_ci(plan, "vllm_base_image", DEFAULT_VLLM_IMAGE))
    if not re.match(r"^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]*$", base) or base.endswith(":latest"):
        raise SpcsLlmError(f"custom_image.vllm_base_image {base!r} must be a pinned image, e.g. {DEFAULT_VLLM_IMAGE}",
                           hint="a fixed tag keeps rebuilds reproducible; 'latest' is not allowed")
    tag = str(_ci(plan, "image_tag") or f"{base.rsplit(':', 1)[1]}-spcs-llm-{__version__}")
    if not _IMAGE_TAG.match(tag):
        raise SpcsLlmError(f"custom_image.image_tag {tag!r} is not a valid tag",
                           hint="letters, digits, '_', '.', '-'; at most 128 characters")
    weight_sources = _sources(plan)
    mirror = _https_endpoint(_ci(plan, "hf_mirror_endpoint", sources.SOURCES["hf-mirror"].default_endpoint),
                             "custom_image.hf_mirror_endpoint")
    extra_hosts = _hosts(_ci(plan, "extra_egress_hosts", []), "custom_image.extra_egress_hosts")
    hosts = tuple(sources.egress_hosts(weight_sources, hf_mirror_endpoint=mirror, extra=extra_hosts))
    if len(hosts) > 100:
        raise SpcsLlmError(f"{len(hosts)} egress hosts exceed the 100 host names an integration may hold")
    revision = str(_ci(plan, "model_revision", "main"))
    ms_revision = str(_ci(plan, "modelscope_revision", "master"))
    for value, name in ((revision, "custom_image.model_revision"), (ms_revision, "custom_image.modelscope_revision")):
        if not _REVISION.match(value):
            raise SpcsLlmError(f"{name} {value!r} is not a branch, tag or commit name")
    ms_model = str(_ci(plan, "modelscope_model_id") or plan_file.get(plan, "model.modelscope_id") or model_id)
    if not _MODEL_ID.match(ms_model):
        raise SpcsLlmError(f"custom_image.modelscope_model_id {ms_model!r} is not owner/name")
    min_i = _positive_int(plan_file.get(plan, "workers.min_instances", 1), "workers.min_instances", 1, 1000)
    max_i = _positive_int(plan_file.get(plan, "workers.max_instances", min_i), "workers.max_instances", min_i, 1000)
    # request.concurrency is how many full-length requests the GPUs were sized for (plan's default 1),
    # not a cap on rows in flight: vLLM queues what its KV cache cannot hold, while a proxy
    # concurrency of 1 would send a batch row by row (the peer kits' MAX_BATCH_ROWS = 1 flaw).
    concurrency = _ci(plan, "proxy_concurrency") \
        or max(plan_file.get(plan, "request.concurrency") or 1, DEFAULT_PROXY_CONCURRENCY)
    concurrency = _positive_int(concurrency, "custom_image.proxy_concurrency", 1, 4096)
    batch_rows = _positive_int(_ci(plan, "max_batch_rows", concurrency), "custom_image.max_batch_rows", 1, 4096)
    if batch_rows > concurrency:
        raise SpcsLlmError(
            f"custom_image.max_batch_rows {batch_rows} exceeds the proxy concurrency {concurrency}: the rows past "
            f"{concurrency} would wait for a free slot, so one batch would take several model latencies",
            hint=f"use max_batch_rows <= {concurrency} (default: equal), or raise custom_image.proxy_concurrency")
    proxy_port = _positive_int(_ci(plan, "proxy_port", DEFAULT_PROXY_PORT), "custom_image.proxy_port", 1024, 65535)
    if proxy_port == 8000:
        raise SpcsLlmError("custom_image.proxy_port 8000 is vLLM's own port inside the container; pick another")
    log_level = str(_ci(plan, "log_level", "INFO")).upper()
    if log_level not in LOG_LEVELS:
        raise SpcsLlmError(f"custom_image.log_level {log_level!r} is not valid; allowed: {', '.join(LOG_LEVELS)}")
    dtype = plan_file.get(plan, "selection.dtype")
    if dtype is not None and str(dtype).lower() not in VLLM_DTYPES:
        raise SpcsLlmError(f"selection.dtype {dtype!r} is not a vLLM --dtype; allowed: {', '.join(VLLM_DTYPES)}")
    gmu = plan_file.get(plan, "selection.gpu_memory_utilization") \
        or plan_file.get(plan, "request.gpu_memory_utilization")
    if gmu is not None and not 0 < float(gmu) <= 1:
        raise SpcsLlmError(f"gpu_memory_utilization {gmu!r} must be in (0, 1]")
    max_model_len = plan_file.get(plan, "selection.max_model_len") or plan_file.get(plan, "request.max_model_len")
    quantization = vllm_quantization(plan)  # a pre-quantized checkpoint's config names its own method
    kv_cache_dtype = plan_file.get(plan, "selection.kv_cache_dtype") or plan_file.get(plan, "request.kv_cache_dtype")
    trust = bool(plan_file.get(plan, "model.trust_remote_code", False))
    cache_family = str(_ci(plan, "cache_job_family", DEFAULT_CACHE_FAMILY)).upper()
    cache_memory, cache_cpu = _cache_job_resources(plan, cache_family)
    on_missing = "download" if max_i == 1 else "wait"
    notes = [f"node facts from {res.node_facts}"]
    if on_missing == "wait":
        notes.append("MAX_INSTANCES > 1: instances wait for the weight-cache job instead of downloading "
                     "(a stage volume does not support concurrent writers to one file)")
    return CustomImage(
        database=database, schema=schema, compute_pool=pool, service_name=service, role=role,
        image_repository=names["image_repository"], weights_stage=names["weights_stage"],
        network_rule=names["network_rule"], eai=names["eai"], function_name=names["function_name"],
        hf_secret=hf_secret or None, cache_job_pool=names["cache_job_pool"], cache_job_name=names["cache_job_name"],
        consumer_roles=consumer_roles, image_name=image_name, image_tag=tag, vllm_base_image=base,
        model_id=model_id, model_revision=revision, modelscope_model_id=ms_model, modelscope_revision=ms_revision,
        weight_sources=weight_sources, hf_mirror_endpoint=mirror, egress_hosts=hosts, weights_on_missing=on_missing,
        tensor_parallel_size=res.gpus, max_model_len=max_model_len, gpu_memory_utilization=gmu,
        dtype=str(dtype).lower() if dtype else None, quantization=quantization, kv_cache_dtype=kv_cache_dtype,
        trust_remote_code=trust,
        vllm_extra_args=_vllm_extra(plan, {
            "--tensor-parallel-size": res.gpus, "--max-model-len": max_model_len, "--gpu-memory-utilization": gmu,
            "--dtype": str(dtype).lower() if dtype else None, "--quantization": quantization,
            "--kv-cache-dtype": kv_cache_dtype, "--trust-remote-code": trust or None}),
        proxy_port=proxy_port, proxy_concurrency=concurrency,
        max_batch_rows=batch_rows, min_instances=min_i, max_instances=max_i, log_level=log_level,
        public_endpoint=bool(_ci(plan, "public_endpoint", False)), resources=res, cache_job_family=cache_family,
        cache_job_memory_gib=cache_memory, cache_job_cpu=cache_cpu,
        credits_per_hour=plan_file.get(plan, "selection.credits_per_hour"), notes=tuple(notes),
    )

