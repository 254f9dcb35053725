"""deployment.yaml: the single record of every decision, so any step (or a new conversation)
can pick up where the last one stopped.

Steps read the plan, change the fields they own through `update()`, and save it. The file is
validated on every load and before every save: a hand-edited file with a typo fails with a
list of every problem, and a failed save never leaves a half-written file behind.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from pathlib import Path

from .errors import SpcsLlmError
from .fileio import write_atomic

PLAN_VERSION = 1
DEFAULT_PLAN_PATH = "deployment.yaml"

ENGINE_PATHS = ("registry", "custom-image")
CLOUDS = ("aws", "azure", "gcp")

# Every field a plan may hold: "section.field" -> allowed Python types. A section listed with
# type list holds a list of mappings (candidates, history). Steps that add fields add them here.
_STR, _INT, _NUM, _BOOL = (str,), (int,), (int, float), (bool,)
_LIST, _MAP = (list,), (dict,)
FIELDS: dict[str, tuple[type, ...]] = {
    "version": _INT,
    "created_by": _STR,
    "created_at": _STR,
    "updated_at": _STR,
    # the model, as sized (catalog entry or a config.json)
    "model.id": _STR,
    "model.source": _STR,
    "model.config_path": _STR,
    "model.architecture": _STR,
    "model.params_b": _NUM,
    "model.active_params_b": _NUM,
    "model.dtype": _STR,
    "model.checkpoint_quantization": _STR,
    "model.max_position_embeddings": _INT,
    "model.num_attention_heads": _INT,
    "model.num_key_value_heads": _INT,
    "model.licence": _STR,
    "model.gated": _BOOL,
    "model.trust_remote_code": _BOOL,
    "model.base_model": _STR,  # set when model.id is a pre-quantized checkpoint of this catalog model
    "model.modelscope_id": _STR,  # the checkpoint's id on ModelScope (China), from the catalog
    # what the user asked for
    "request.model": _STR,  # the model as the user named it (--replan sizes it and its checkpoints again)
    "request.priority": _STR,  # cheapest | fastest | balanced
    "request.cloud": _STR,
    "request.region": _STR,
    "request.max_model_len": _INT,
    "request.concurrency": _INT,
    "request.quantization": _STR,
    "request.kv_cache_dtype": _STR,
    "request.gpu_memory_utilization": _NUM,
    "request.vllm_version": _STR,  # the vLLM release whose memory accounting sized the plan
    "request.vllm_version_source": _STR,  # --vllm-version, the custom image pin, or the registry assumption
    # ranked candidates from `plan` (one mapping per instance family; see docs/cli.md)
    "candidates": _LIST,
    # the chosen hardware: the recommendation until the user confirms it (`select`)
    "selection.instance_family": _STR,
    "selection.gpu": _STR,
    "selection.gpu_count": _INT,
    "selection.tensor_parallel_size": _INT,
    "selection.replicas_per_node": _INT,
    "selection.max_model_len": _INT,
    "selection.gpu_memory_utilization": _NUM,
    "selection.dtype": _STR,
    "selection.quantization": _STR,
    "selection.kv_cache_dtype": _STR,
    "selection.vllm_args": _LIST,
    "selection.credits_per_hour": _NUM,
    "selection.node_memory_gib": _NUM,
    "selection.node_vcpu": _NUM,
    # the layout that fills the billed nodes, and its figures (planner.py)
    "selection.instances": _INT,
    "selection.nodes": _INT,
    "selection.credits_per_hour_for_layout": _NUM,
    "selection.est_decode_tokens_per_s": _NUM,
    "selection.est_decode_tokens_per_s_single_stream": _NUM,
    "selection.credits_per_million_output_tokens": _NUM,
    "selection.confirmed": _BOOL,
    # workers: how the engine uses the node (`workers`)
    "workers.engine_path": _STR,
    "workers.server": _STR,  # vllm | python (the Model Registry's Python inference server)
    "workers.gpu_requests": _INT,
    "workers.tensor_parallel_size": _INT,
    "workers.num_workers": _INT,
    "workers.min_instances": _INT,
    "workers.max_instances": _INT,
    "workers.memory_requests_gib": _NUM,
    "workers.cpu_requests": _NUM,
    "workers.confirmed": _BOOL,
    # the deployment path and Snowflake objects (names are validated where they are used)
    "engine_path": _STR,
    "snowflake.connection": _STR,
    "snowflake.account": _STR,
    "snowflake.region": _STR,
    "snowflake.role": _STR,
    "snowflake.warehouse": _STR,
    "snowflake.database": _STR,
    "snowflake.schema": _STR,
    "snowflake.compute_pool": _STR,
    "snowflake.service_name": _STR,
    "snowflake.live_instance_family": _MAP,
    "snowflake.live_families": _LIST,  # every GPU family the account offers, as `pools` read them
    # the Model Registry path (`deploy-registry`); registry.ingress_url is for whoever reads SHOW ENDPOINTS
    "registry.source": _STR, "registry.model_name": _STR, "registry.version_name": _STR,
    "registry.pre_logged_model": _STR, "registry.pre_logged_version": _STR, "registry.hf_secret": _STR,
    "registry.snapshot_dir": _STR, "registry.log_pool": _STR, "registry.ingress_enabled": _BOOL,
    "registry.engine_args": _LIST, "registry.service_fqn": _STR, "registry.script_path": _STR,
    "registry.log_path": _STR, "registry.result_path": _STR, "registry.pid": _INT,
    "registry.started_at": _STR, "registry.ingress_url": _STR, "registry.compute_pool": _STR,
    # the custom-image path (`render-custom`, `image`); defaults filled and recorded by render-custom
    "custom_image.service_name": _STR, "custom_image.image_repository": _STR, "custom_image.image_name": _STR,
    "custom_image.image_tag": _STR, "custom_image.image_url": _STR, "custom_image.vllm_base_image": _STR,
    "custom_image.repository_url": _STR, "custom_image.image_pushed_at": _STR, "custom_image.weight_sources": _LIST,
    "custom_image.hf_mirror_endpoint": _STR, "custom_image.modelscope_model_id": _STR,
    "custom_image.model_revision": _STR, "custom_image.modelscope_revision": _STR, "custom_image.weights_stage": _STR,
    "custom_image.hf_secret": _STR, "custom_image.network_rule": _STR, "custom_image.eai": _STR,
    "custom_image.egress_hosts": _LIST, "custom_image.extra_egress_hosts": _LIST, "custom_image.function_name": _STR,
    "custom_image.max_batch_rows": _INT, "custom_image.proxy_concurrency": _INT, "custom_image.proxy_port": _INT,
    "custom_image.cache_job_pool": _STR, "custom_image.cache_job_family": _STR, "custom_image.cache_job_name": _STR,
    "custom_image.shm_gib": _INT, "custom_image.memory_gib": _INT, "custom_image.log_level": _STR,
    "custom_image.public_endpoint": _BOOL, "custom_image.consumer_roles": _LIST, "custom_image.rendered_dir": _STR,
    "custom_image.ingress_url": _STR,  # the public endpoint's URL, recorded by `endpoint url`
    "custom_image.executed_parts": _LIST,  # render-custom parts run live, in order (show reads them)
    # KV caches vLLM logged at start-up, one mapping per configuration (observed.py): sizing uses them as truth
    "observed.kv_cache": _LIST,
    # operating the deployment (`manage`, `teardown`)
    "operate.auto_suspend_secs": _INT, "operate.pool_auto_suspend_secs": _INT, "operate.last_action": _STR,
    "operate.torn_down_at": _STR, "operate.torn_down": _LIST,
    # REST access (`access`): who calls the endpoint and with which token; never a secret, only where it is
    "rest.caller_user": _STR, "rest.caller_kind": _STR, "rest.caller_role": _STR, "rest.service_fqn": _STR,
    "rest.network_policy": _STR, "rest.network_rule": _STR, "rest.client_cidrs": _LIST, "rest.grant_done": _BOOL,
    "rest.token_method": _STR, "rest.token_name": _STR, "rest.token_days": _INT, "rest.pat_file": _STR,
    "rest.pat_env": _STR, "rest.private_key_file": _STR,
    # an append-only log of what each step decided
    "history": _LIST,
}
REQUIRED = ("version", "model.id")
# Fields recorded on disk in the middle of a step (the connection the first live statement
# succeeded with): a step that loaded the plan before and saves it after keeps them.
_PINNED: dict[str, dict[str, object]] = {}
_SECTIONS = {key.split(".")[0] for key in FIELDS if "." in key}


# What each item of a list field holds: "str" (a list of names), or a mapping's keys -> (allowed types,
# required). None is allowed wherever a key is optional. Numbers must be finite.
_N = (int, float)
_LIST_ITEMS: dict[str, object] = {
    "candidates": {"instance_family": (_STR, True), "fits": (_BOOL, True), "cloud": (_STR, False),
                   "gpu": (_STR, False), "gpu_count": (_INT, False), "gpu_memory_gib": (_N, False),
                   "node_vcpu": (_N, False), "node_memory_gib": (_N, False), "credits_per_hour": (_N, False),
                   "tensor_parallel_size": (_INT, False), "replicas_per_node": (_INT, False),
                   "max_model_len": (_INT, False), "reason": (_STR, False), "options": (_LIST, False),
                   "vllm_args": (_LIST, False)},
    "history": {"at": (_STR, True), "step": (_STR, True), "set": (_MAP, False)},
    "snowflake.live_families": {"name": (_STR, True), "gpu": (_STR, False), "gpu_count": (_INT, False),
                                "gpu_memory_gib": (_N, False), "vcpu": (_N, False), "memory_gib": (_N, False)},
    "selection.vllm_args": "str", "registry.engine_args": "str", "custom_image.weight_sources": "str",
    "custom_image.egress_hosts": "str", "custom_image.extra_egress_hosts": "str",
    "custom_image.consumer_roles": "str", "custom_image.executed_parts": "str",
}


def _check_items(key: str, value: object) -> list[str]:
    """Problems with the items of a list field (a hand-edited `candidates: ['GPU_NV_S']` and the like)."""
    shape = _LIST_ITEMS.get(key)
    if shape is None or not isinstance(value, list):
        return []
    errors: list[str] = []
    for i, item in enumerate(value):
        where = f"'{key}' item {i + 1}"
        if shape == "str":
            if not isinstance(item, str) or not item.strip():
                errors.append(f"{where} must be non-empty text, got {item!r}")
            continue
        if not isinstance(item, dict):
            errors.append(f"{where} must be a mapping, got {type(item).__name__} {item!r}")
            continue
        for field, (types, required) in shape.items():
            got = item.get(field)
            if got is None:
                if required:
                    errors.append(f"{where} has no '{field}'")
                continue
            if (isinstance(got, bool) and bool not in types) or not isinstance(got, types) \
                    or (isinstance(got, float) and not math.isfinite(got)):
                errors.append(f"{where}: '{field}' must be {_type_names(types)}, got {got!r}")
        if key == "candidates" and item.get("fits") is True and not isinstance(item.get("tensor_parallel_size"), int):
            errors.append(f"{where} fits but has no 'tensor_parallel_size'")
    return errors


def validate(data: object) -> list[str]:
    """Every problem with a plan, as readable sentences (empty list: valid)."""
    if not isinstance(data, dict):
        return ["the plan must be a YAML mapping at the top level"]
    errors: list[str] = []
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                errors.append(f"'{key}' must be a mapping, got {type(value).__name__}")
                continue
            for sub, subvalue in value.items():
                errors += _check(f"{key}.{sub}", subvalue)
        else:
            errors += _check(str(key), value)
    for key in REQUIRED:
        if _get(data, key) is None:
            errors.append(f"'{key}' is missing")
    version = data.get("version")
    if isinstance(version, int) and version != PLAN_VERSION:
        errors.append(f"'version' is {version}; this spcs-llm reads version {PLAN_VERSION}")
    engine = data.get("engine_path")
    if engine is not None and engine not in ENGINE_PATHS:
        errors.append(f"'engine_path' {engine!r} is not one of {', '.join(ENGINE_PATHS)}")
    server = _get(data, "workers.server")
    if server is not None and server not in ("vllm", "python"):
        errors.append(f"'workers.server' {server!r} is not one of vllm, python")
    for key in ("workers.engine_path",):
        value = _get(data, key)
        if value is not None and value not in ENGINE_PATHS:
            errors.append(f"'{key}' {value!r} is not one of {', '.join(ENGINE_PATHS)}")
    cloud = _get(data, "request.cloud")
    if cloud is not None and cloud not in CLOUDS:
        errors.append(f"'request.cloud' {cloud!r} is not one of {', '.join(CLOUDS)}")
    return errors


def _check(key: str, value: object) -> list[str]:
    if key not in FIELDS:
        return [f"unknown field '{key}'"]
    if value is None:
        return []
    allowed = FIELDS[key]
    if isinstance(value, bool) and bool not in allowed:
        return [f"'{key}' must be {_type_names(allowed)}, got a boolean"]
    if not isinstance(value, allowed):
        return [f"'{key}' must be {_type_names(allowed)}, got {type(value).__name__} {value!r}"]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"'{key}' must be a finite number, got {value!r}"]
    return _check_items(key, value)


def _type_names(types: tuple[type, ...]) -> str:
    names = {str: "text", int: "an integer", float: "a number", bool: "true/false", list: "a list",
             dict: "a mapping"}
    return " or ".join(names[t] for t in types)


def _get(data: dict, dotted: str):
    node: object = data
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def get(plan: dict, dotted: str, default=None):
    value = _get(plan, dotted)
    return default if value is None else value


def require(plan: dict, dotted: str, step_hint: str) -> object:
    """A field a step cannot work without; the error names the step that sets it."""
    value = _get(plan, dotted)
    if value is None:
        raise SpcsLlmError(f"the plan has no '{dotted}' yet", hint=f"run {step_hint} first")
    return value


def new_plan(tool_version: str) -> dict:
    now = _now()
    return {"version": PLAN_VERSION, "created_by": f"spcs-llm {tool_version}", "created_at": now,
            "updated_at": now}


def update(plan: dict, step: str, changes: dict[str, object]) -> dict:
    """Set dotted fields and log the change in history; returns the plan for chaining."""
    for dotted, value in changes.items():
        if dotted not in FIELDS:
            raise SpcsLlmError(f"internal: step {step!r} set unknown plan field {dotted!r}", exit_code=3)
        node = plan
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    logged = {k: v for k, v in changes.items() if k != "candidates"}
    plan.setdefault("history", []).append({"at": _now(), "step": step, "set": logged})
    plan["updated_at"] = _now()
    return plan


def load(path: str | os.PathLike = DEFAULT_PLAN_PATH) -> dict:
    import yaml

    path = Path(path)
    if not path.exists():
        raise SpcsLlmError(f"plan file {str(path)!r} does not exist",
                           hint="create it with: spcs-llm plan --model <id> --out " + str(path))
    try:
        # libyaml when installed: a plan with every candidate's options is ~200 KB, 10x faster to parse
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError) as err:  # a folder, an unreadable or binary file
        raise SpcsLlmError(f"cannot read plan file {str(path)!r}: {getattr(err, 'strerror', None) or err}",
                           hint="pass --plan with the path of a deployment.yaml file") from err
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise SpcsLlmError(f"plan file {str(path)!r} is not valid YAML{at}: {getattr(err, 'problem', err)}",
                           hint="fix the file by hand, or write a new one with spcs-llm plan") from err
    errors = validate(data)
    if errors:
        raise SpcsLlmError(f"plan file {str(path)!r} is invalid:\n  - " + "\n  - ".join(errors),
                           hint="fix these fields, or write a new plan with spcs-llm plan")
    return data


def pin(path: str | os.PathLike, step: str, changes: dict[str, object]) -> dict:
    """Record fields in the plan file now, and in every later save of that file by this process."""
    plan = load(path)
    update(plan, step, changes)
    _PINNED.setdefault(str(Path(path).resolve()), {}).update(changes)
    save(plan, path)
    return plan


def save(plan: dict, path: str | os.PathLike = DEFAULT_PLAN_PATH) -> Path:
    """Validate, then write atomically (temp file + rename)."""
    import yaml

    for dotted, value in _PINNED.get(str(Path(path).resolve()), {}).items():
        node = plan
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    errors = validate(plan)
    if errors:
        raise SpcsLlmError("internal: refusing to write an invalid plan:\n  - " + "\n  - ".join(errors),
                           exit_code=3)
    path = Path(path)
    text = "# spcs-llm deployment plan: every decision, one place. Steps update it; see docs/plan-file.md\n"
    text += yaml.dump(plan, Dumper=_plain_dumper(), sort_keys=False, default_flow_style=False, allow_unicode=True)
    return write_atomic(path, text, create_dirs=False)  # a plan in a folder that does not exist is a typo


def _plain_dumper():
    import yaml

    class PlainDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml when installed: faster
        """Writes repeated values out in full: anchors (&id001) make a hand-read plan cryptic."""

        def ignore_aliases(self, data):
            return True

    return PlainDumper


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
