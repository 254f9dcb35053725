"""DeploySpec: every value the rendered deployment script needs, read from the plan and checked
before anything is written, so a bad plan fails here with the field's name rather than
half-way through a paid deployment.

Where a value comes from (plan field, flag or default) is kept in `sources` and shown in the
summary, so the user can see which numbers were decided by an earlier step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import plan_file
from ..checkpoints import require_deployable, vllm_quantization
from ..errors import SpcsLlmError
from ..render.identifiers import identifier, name_as_written, qualified_name, service_name
from .engine_args import build_engine_args

SOURCES = ("remote", "snapshot", "pre-logged")
# snowflake.ml.model.compute_pool.DEFAULT_CPU_COMPUTE_POOL in 2.6.0 (checked by a test): the
# pool TransformersPipeline uses for remote logging unless told otherwise.
DEFAULT_LOG_POOL = "SYSTEM_COMPUTE_POOL_CPU"
PRE_LOGGED_DATABASE, PRE_LOGGED_SCHEMA = "SNOWFLAKE", "MODELS"
DEFAULT_VERSION = "V1"
# The only task the pack deploys: vLLM serves it (model_version_impl.VLLM_SUPPORTED_TASKS).
TASK = "text-generation"
# vLLM's own default for --gpu-memory-utilization, used when the plan has no value.
FORBIDDEN_ROLE = "ACCOUNTADMIN"

_PRE_LOGGED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.$-]{0,254}$")
_HF_TOKEN = re.compile(r"^hf_[A-Za-z0-9]{20,}$")
_HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


@dataclass
class DeploySpec:
    plan_path: str
    source: str  # remote | snapshot | pre-logged
    model_id: str | None  # Hugging Face id (not used by the pre-logged route)
    database: str
    schema: str
    compute_pool: str
    service: str  # unqualified service name
    model_name: str  # registry model name (quoted form for pre-logged names that need it)
    version_name: str | None  # None: the pre-logged model's default version
    connection: str | None
    warehouse: str | None
    role: str | None  # as recorded by preflight
    gpu_requests: int
    tensor_parallel_size: int
    max_model_len: int
    gpu_memory_utilization: float
    min_instances: int
    max_instances: int
    num_workers: int | None
    ingress_enabled: bool
    engine_args: list[str]
    trust_remote_code: bool = False
    server: str = "vllm"  # workers.server: vllm, or python (the registry's own server: no engine options)
    hf_secret: str | None = None  # DB.SCHEMA.NAME of a Snowflake SECRET
    snapshot_dir: str | None = None
    log_pool: str = DEFAULT_LOG_POOL
    instance_family: str | None = None
    credits_per_hour: float | None = None
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def service_fqn(self) -> str:
        return f"{self.database}.{self.schema}.{self.service}"

    @property
    def model_fqn(self) -> str:
        if self.source == "pre-logged":
            return f"{PRE_LOGGED_DATABASE}.{PRE_LOGGED_SCHEMA}.{self.model_name}"
        return f"{self.database}.{self.schema}.{self.model_name}"

    def create_service_kwargs(self) -> dict:
        """The keyword arguments the script passes to ModelVersion.create_service (for summaries)."""
        kwargs: dict = {
            "service_name": self.service_fqn,
            "service_compute_pool": self.compute_pool,
            "ingress_enabled": self.ingress_enabled,
            "min_instances": self.min_instances,
            "max_instances": self.max_instances,
            "gpu_requests": self.gpu_requests,
        }
        if self.num_workers is not None:
            kwargs["num_workers"] = self.num_workers
        if self.server == "vllm":  # the Python server takes num_workers and no inference engine options
            kwargs["inference_engine_options"] = {"engine": "vllm", "engine_args_override": list(self.engine_args)}
        kwargs["block"] = True
        return kwargs


@dataclass
class Choices:
    """What the user chose on the command line (None: keep what the plan recorded)."""

    hf_secret: str | None = None
    snapshot_dir: str | None = None
    pre_logged: str | None = None
    pre_logged_version: str | None = None
    remote: bool = False
    log_pool: str | None = None
    model_name: str | None = None
    version_name: str | None = None
    connection: str | None = None
    no_ingress: bool = False
    database: str | None = None  # these four override the plan's snowflake.* fields
    schema: str | None = None
    compute_pool: str | None = None
    service: str | None = None


def registry_model_name(model_id: str) -> str:
    """A registry model name from a Hugging Face id: 'Qwen/Qwen2.5-7B-Instruct' -> QWEN2_5_7B_INSTRUCT."""
    base = model_id.rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9]+", "_", base).strip("_").upper()
    if not name:
        raise SpcsLlmError(f"cannot derive a registry model name from model id {model_id!r}",
                           hint="pass --model-name NAME")
    if name[0].isdigit():
        name = "M_" + name
    return identifier(name[:255], "registry model name")


def pre_logged_name(value: str, what: str = "--pre-logged") -> str:
    """A model name in SNOWFLAKE.MODELS, written the way Registry.get_model parses it.

    Snowflake-provided models have names such as TINYLLAMA-1.1B-CHAT-V1.0-20260902 (dashes and
    dots), which only work as quoted identifiers; plain names stay unquoted (upper-cased).
    """
    text = value.strip()
    prefix = f"{PRE_LOGGED_DATABASE}.{PRE_LOGGED_SCHEMA}."
    if text.upper().startswith(prefix):
        text = text[len(prefix):]
    text = text.strip('"') if text.startswith('"') and text.endswith('"') and len(text) > 2 else text
    if not _PRE_LOGGED_NAME.match(text):
        raise SpcsLlmError(
            f"{what} {value!r} is not a model name in {PRE_LOGGED_DATABASE}.{PRE_LOGGED_SCHEMA}",
            hint="use the name exactly as SHOW MODELS IN SNOWFLAKE.MODELS lists it "
            "(letters, digits, '_', '-', '.'; no quotes)",
        )
    return name_as_written(text)


def hf_secret_name(value: str, database: str, schema: str) -> str:
    """DB.SCHEMA.NAME of the Snowflake secret that holds the HF token.

    TransformersPipeline treats token_or_secret as a secret only when it is fully qualified
    (models/huggingface.py _parse_secret_identifier), so a short name is qualified with the
    plan's database and schema. A value that looks like a token itself is refused: it would end
    up in the script.
    """
    if _HF_TOKEN.match(value.strip()):
        raise SpcsLlmError(
            "--hf-secret looks like a Hugging Face token, not the name of a Snowflake secret",
            hint="store the token in a secret (CREATE SECRET ... TYPE = GENERIC_STRING) and pass its name; "
            "see docs/registry.md#hugging-face-token",
        )
    name = qualified_name(value, "--hf-secret")
    parts = name.split(".")
    if len(parts) == 1:
        parts = [database, schema, parts[0]]
    elif len(parts) == 2:
        parts = [database, *parts]
    return ".".join(parts)


def build_spec(plan: dict, plan_path: str, choices: Choices) -> DeploySpec:
    """Read and check everything; the returned spec is complete and safe to render."""
    sources: dict[str, str] = {}
    warnings: list[str] = []
    get = plan_file.get

    # Flags, else the account steps' fields, else what an earlier deploy-registry run used.
    rec_db = rec_schema = rec_service = None
    if get(plan, "registry.service_fqn"):
        rec_db, rec_schema, rec_service = qualified_name(get(plan, "registry.service_fqn"),
                                                         "registry.service_fqn", parts=(3,)).split(".")
    database = identifier(_target(plan, choices.database, "snowflake.database", rec_db, "--database",
                                  "spcs-llm preflight --database DB --schema SCHEMA"), "database")
    schema = identifier(_target(plan, choices.schema, "snowflake.schema", rec_schema, "--schema",
                                "spcs-llm preflight --database DB --schema SCHEMA"), "schema")
    pool = identifier(_target(plan, choices.compute_pool, "snowflake.compute_pool",
                              get(plan, "registry.compute_pool"), "--compute-pool",
                              "spcs-llm create-pool --name POOL (an existing pool of the plan's family is "
                              "recorded, not changed)"), "compute pool")
    service = service_name(_target(plan, choices.service, "snowflake.service_name", rec_service, "--name",
                                   "spcs-llm service-check --name SERVICE"))
    warehouse = get(plan, "snowflake.warehouse")
    warehouse = identifier(warehouse, "snowflake.warehouse") if warehouse else None
    connection = choices.connection or get(plan, "snowflake.connection")

    source, hf_secret, snapshot_dir, pre_logged, pre_version = _route(plan, choices, database, schema)
    sources["source"] = "flag" if (choices.remote or choices.hf_secret or choices.snapshot_dir
                                   or choices.pre_logged) else ("plan" if get(plan, "registry.source") else "default")

    model_id = plan_file.require(plan, "model.id", "spcs-llm plan")
    if not isinstance(model_id, str) or (source != "pre-logged" and not _HF_ID.match(model_id)):
        raise SpcsLlmError(f"model.id {model_id!r} is not a Hugging Face model id (org/name)",
                           hint="the registry path logs models by their Hugging Face id")
    require_deployable(plan)  # model.id is the checkpoint that was sized (a quantized repo, not its base)

    if source == "pre-logged":
        model_name, version_name = pre_logged, pre_version
    else:
        explicit = choices.model_name or get(plan, "registry.model_name")
        model_name = identifier(explicit, "registry model name") if explicit else registry_model_name(model_id)
        version = choices.version_name or get(plan, "registry.version_name") or DEFAULT_VERSION
        version_name = identifier(version, "registry version name")

    tp = _pick(plan, sources, "tensor_parallel_size", ("workers.tensor_parallel_size",
                                                       "selection.tensor_parallel_size"), required=True)
    gpus = _pick(plan, sources, "gpu_requests", ("workers.gpu_requests", "selection.gpu_count"), required=True)
    if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 1:
        raise SpcsLlmError(f"gpu_requests {gpus!r} must be a whole number of GPUs >= 1",
                           hint="the registry path serves with vLLM, which needs a GPU pool")
    if isinstance(tp, int) and tp > gpus:
        raise SpcsLlmError(
            f"tensor-parallel size {tp} needs {tp} GPUs but gpu_requests is {gpus}",
            hint="run spcs-llm workers again, or pick a pool with more GPUs per node",
        )
    max_len = _pick(plan, sources, "max_model_len", ("selection.max_model_len", "request.max_model_len"),
                    required=True)
    util = _pick(plan, sources, "gpu_memory_utilization",
                 ("selection.gpu_memory_utilization", "request.gpu_memory_utilization"), required=False)
    if util is None:  # the default of the release the plan was sized for (0.9, or 0.92 from 0.20)
        from .. import vllm_versions

        version = plan_file.get(plan, "request.vllm_version") or vllm_versions.default_for_path("registry")[0]
        util = vllm_versions.default_gpu_memory_utilization(vllm_versions.accounting(version))
        sources["gpu_memory_utilization"] = f"vLLM {version} default"
    min_inst = _pick(plan, sources, "min_instances", ("workers.min_instances",), required=False)
    max_inst = _pick(plan, sources, "max_instances", ("workers.max_instances",), required=False)
    if min_inst is None:
        min_inst, sources["min_instances"] = 1, "default"
    if max_inst is None:
        max_inst, sources["max_instances"] = max(1, min_inst), "default"
    _check_instances(min_inst, max_inst)
    num_workers = _pick(plan, sources, "num_workers", ("workers.num_workers",), required=False)
    server = get(plan, "workers.server") or "vllm"
    if num_workers is not None and server == "python":  # model copies per instance, as `workers` sized them
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 1:
            raise SpcsLlmError(f"workers.num_workers {num_workers!r} must be a whole number >= 1")
    elif num_workers is not None:
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 1:
            raise SpcsLlmError(f"workers.num_workers {num_workers!r} must be a whole number >= 1")
        if num_workers == 1:
            num_workers = None  # the GPU default: create_service is left to use it
        else:
            warnings.append(
                f"workers.num_workers is {num_workers}: no Snowflake source defines what num_workers does "
                "under the vLLM engine; leaving it unset (one engine per instance) is the tested setup"
            )

    engine_args, notes = build_engine_args(
        tensor_parallel_size=tp,
        max_model_len=max_len,
        gpu_memory_utilization=util,
        dtype=get(plan, "selection.dtype"),
        quantization=vllm_quantization(plan),
        kv_cache_dtype=get(plan, "selection.kv_cache_dtype"),
        extra=get(plan, "selection.vllm_args"),
    )
    warnings += notes

    log_pool = choices.log_pool or get(plan, "registry.log_pool") or DEFAULT_LOG_POOL
    log_pool = identifier(log_pool, "--log-pool")
    ingress = False if choices.no_ingress else bool(get(plan, "registry.ingress_enabled", True))

    return DeploySpec(
        plan_path=str(plan_path),
        source=source,
        model_id=model_id,
        database=database,
        schema=schema,
        compute_pool=pool,
        service=service,
        model_name=model_name,
        version_name=version_name,
        connection=connection,
        warehouse=warehouse,
        role=get(plan, "snowflake.role"),
        gpu_requests=gpus,
        tensor_parallel_size=tp,
        max_model_len=max_len,
        gpu_memory_utilization=float(util),
        min_instances=min_inst,
        max_instances=max_inst,
        num_workers=num_workers,
        ingress_enabled=ingress,
        server=server,
        engine_args=engine_args,
        trust_remote_code=bool(get(plan, "model.trust_remote_code", False)),
        hf_secret=hf_secret,
        snapshot_dir=snapshot_dir,
        log_pool=log_pool,
        instance_family=get(plan, "selection.instance_family"),
        credits_per_hour=get(plan, "selection.credits_per_hour"),
        sources=sources,
        warnings=warnings,
    )


def refuse_forbidden_role(role: str | None) -> None:
    """A model service cannot be created as ACCOUNTADMIN: stop before anything starts."""
    if role and role.strip('"').upper() == FORBIDDEN_ROLE:
        raise SpcsLlmError(
            "the plan records role ACCOUNTADMIN, and Snowflake does not create services as ACCOUNTADMIN",
            hint="use a role that owns the schema and has USAGE on the compute pool (and BIND SERVICE "
            "ENDPOINT for ingress): set it as the connection's role, run spcs-llm preflight again, "
            "then render again",
        )


def _route(plan: dict, choices: Choices, database: str, schema: str):
    """Which registration route, and its inputs: flags first, else what the plan recorded."""
    get = plan_file.get
    given = [name for name, on in (("--hf-secret", choices.hf_secret), ("--snapshot-dir", choices.snapshot_dir),
                                   ("--pre-logged", choices.pre_logged), ("--remote", choices.remote)) if on]
    if choices.snapshot_dir and (choices.hf_secret or choices.pre_logged):
        raise SpcsLlmError(f"{' and '.join(given)} cannot be combined",
                           hint="a local snapshot needs no Hugging Face access and no pre-logged model")
    if choices.pre_logged and (choices.hf_secret or choices.remote):
        raise SpcsLlmError(f"{' and '.join(given)} cannot be combined",
                           hint="a pre-logged model in SNOWFLAKE.MODELS is already registered")
    if choices.pre_logged_version and not (choices.pre_logged or get(plan, "registry.source") == "pre-logged"):
        raise SpcsLlmError("--pre-logged-version needs --pre-logged NAME")

    if choices.pre_logged:
        source = "pre-logged"
    elif choices.snapshot_dir:
        source = "snapshot"
    elif choices.remote or choices.hf_secret:
        source = "remote"
    else:
        source = get(plan, "registry.source") or "remote"
    if source not in SOURCES:
        raise SpcsLlmError(f"registry.source {source!r} is not one of {', '.join(SOURCES)}")

    hf_secret = snapshot_dir = pre_logged = pre_version = None
    if source == "remote":
        secret = choices.hf_secret or get(plan, "registry.hf_secret")
        hf_secret = hf_secret_name(secret, database, schema) if secret else None
    elif source == "snapshot":
        snapshot_dir = _snapshot_dir(choices.snapshot_dir or get(plan, "registry.snapshot_dir"))
    else:
        raw = choices.pre_logged or get(plan, "registry.pre_logged_model")
        if not raw:
            raise SpcsLlmError("registry.source is pre-logged but no model name is recorded",
                               hint="pass --pre-logged NAME")
        pre_logged = pre_logged_name(raw)
        version = choices.pre_logged_version or (None if choices.pre_logged else
                                                 get(plan, "registry.pre_logged_version"))
        pre_version = pre_logged_name(version, "--pre-logged-version") if version else None
    return source, hf_secret, snapshot_dir, pre_logged, pre_version


def _snapshot_dir(value: str | None) -> str:
    if not value:
        raise SpcsLlmError("registry.source is snapshot but no snapshot directory is recorded",
                           hint="pass --snapshot-dir PATH (a downloaded Hugging Face model folder)")
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise SpcsLlmError(f"--snapshot-dir {value!r} is not a directory")
    if not (path / "config.json").is_file():
        raise SpcsLlmError(f"--snapshot-dir {value!r} has no config.json",
                           hint="point it at the folder that holds config.json, the tokenizer files and the "
                           "*.safetensors weights (for a HF cache: .../snapshots/<commit>)")
    if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise SpcsLlmError(f"--snapshot-dir {value!r} has no weight files (*.safetensors or *.bin)")
    return str(path)


def _target(plan: dict, flag_value: str | None, field_name: str, recorded: str | None, flag: str,
            step: str) -> str:
    value = flag_value or plan_file.get(plan, field_name) or recorded
    if not value:
        raise SpcsLlmError(f"the plan has no '{field_name}' yet and {flag} was not given",
                           hint=f"pass {flag}, or record it with {step}")
    return value


def _pick(plan: dict, sources: dict, key: str, fields: tuple[str, ...], *, required: bool):
    for dotted in fields:
        value = plan_file.get(plan, dotted)
        if value is not None:
            sources[key] = dotted
            return value
    if required:
        raise SpcsLlmError(f"the plan has no {' or '.join(repr(f) for f in fields)} yet",
                           hint="run spcs-llm plan (and spcs-llm workers) first")
    return None


def _check_instances(min_inst: object, max_inst: object) -> None:
    for name, value in (("workers.min_instances", min_inst), ("workers.max_instances", max_inst)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SpcsLlmError(f"{name} {value!r} must be a whole number >= 0")
    if max_inst < 1 or max_inst < min_inst:
        raise SpcsLlmError(f"instances {min_inst}..{max_inst} are not a valid range",
                           hint="max_instances must be >= 1 and >= min_instances")
