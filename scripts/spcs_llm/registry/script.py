"""Render the standalone deployment script from render/templates/registry/deploy_registry.py.j2.

The script is the unit of execution: the user can read it before it runs, run it by hand, or
let `deploy-registry --execute --yes` start it in the background. Rendering is deterministic
(no timestamps), so the same plan always gives the same file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..fileio import write_atomic
from ..render import environment
from .literals import py_literal
from .spec import TASK, DeploySpec

TEMPLATE = "registry/deploy_registry.py.j2"
# snowflake.ml.model._packager.model_env.model_env.DEFAULT_CUDA_VERSION in 2.6.0 (checked by a
# test): the CUDA runtime recorded for a model logged from a local snapshot.
CUDA_VERSION = "12.4"


@dataclass(frozen=True)
class ScriptPaths:
    script: Path
    log: Path
    result: Path


def script_paths(spec: DeploySpec, out_dir: str | os.PathLike) -> ScriptPaths:
    """deploy_<service>.py, its .log and .result.json, side by side in out_dir."""
    base = Path(out_dir).expanduser().absolute() / f"deploy_{spec.service.lower()}"
    return ScriptPaths(script=base.with_suffix(".py"), log=base.with_suffix(".log"),
                       result=base.with_name(base.name + ".result.json"))


def route_text(spec: DeploySpec) -> str:
    if spec.source == "pre-logged":
        return f"Snowflake-provided model {spec.model_fqn}"
    if spec.source == "snapshot":
        return f"upload of the local snapshot {spec.snapshot_dir}"
    secret = f", Hugging Face token from secret {spec.hf_secret}" if spec.hf_secret else ""
    return f"remote logging from Hugging Face on {spec.log_pool}{secret}"


def render_script(spec: DeploySpec, paths: ScriptPaths) -> str:
    env = environment()
    env.filters["py"] = py_literal
    label = spec.model_fqn if spec.source == "pre-logged" else spec.model_id
    return env.get_template(TEMPLATE).render(
        model_label=label,
        plan_path=spec.plan_path,
        script_name=paths.script.name,
        result_name=paths.result.name,
        log_name=paths.log.name,
        route_text=route_text(spec),
        source=spec.source,
        connection=spec.connection,
        warehouse=spec.warehouse,
        database=spec.database,
        schema=spec.schema,
        model_id=spec.model_id,
        task=TASK,
        model_name=spec.model_name,
        version_name=spec.version_name,
        log_pool=spec.log_pool,
        hf_secret=spec.hf_secret,
        snapshot_dir=spec.snapshot_dir,
        cuda_version=CUDA_VERSION,
        trust_remote_code=spec.trust_remote_code,
        service_fqn=spec.service_fqn,
        compute_pool=spec.compute_pool,
        instance_family=spec.instance_family,
        ingress_enabled=spec.ingress_enabled,
        min_instances=spec.min_instances,
        max_instances=spec.max_instances,
        gpu_requests=spec.gpu_requests,
        num_workers=spec.num_workers,
        server=spec.server,
        engine_args=spec.engine_args,
        comment=f"deployed by spcs-llm deploy-registry from {label}",
        log_path=str(paths.log),
        result_path=str(paths.result),
    )


def write_script(spec: DeploySpec, out_dir: str | os.PathLike) -> tuple[ScriptPaths, str]:
    """Render and write atomically (temp file + rename); the script is executable."""
    paths = script_paths(spec, out_dir)
    text = render_script(spec, paths)
    write_atomic(paths.script, text, mode=0o755)
    return paths, text
