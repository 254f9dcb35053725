"""Shared helpers for the deploy-registry / usage tests: example plans, the golden cases, and a
stand-in `snowflake` package so the rendered script can run end to end without an account."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from spcs_llm import plan_file
from spcs_llm.registry.script import script_paths
from spcs_llm.registry.spec import Choices, build_spec

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "registry"
# Golden scripts are rendered as if the plan sat in /srv/llm: paths in them are fixed.
GOLDEN_OUT = Path("/srv/llm/.spcs-llm/registry")
FAKE_HF_TOKEN = "hf_" + "Zq8" * 12  # shaped like a real token; must never reach a rendered file


def make_plan(*, family: str = "GPU_NV_S", gpus: int = 1, tp: int = 1, max_len: int = 8192, util: float = 0.9,
              model: str = "Qwen/Qwen2.5-7B-Instruct", vllm_args: list[str] | None = None,
              min_instances: int = 1, max_instances: int = 1, role: str | None = "ML_DEPLOYER",
              service: str = "QWEN_SVC", pool: str = "LLM_POOL", credits: float = 0.57, **extra) -> dict:
    plan = plan_file.new_plan("test")
    plan["created_at"] = plan["updated_at"] = "2026-01-01T00:00:00+00:00"
    plan["model"] = {"id": model, "trust_remote_code": False}
    plan["selection"] = {"instance_family": family, "gpu": "A10G", "gpu_count": gpus, "tensor_parallel_size": tp,
                         "max_model_len": max_len, "gpu_memory_utilization": util, "dtype": "bfloat16",
                         "credits_per_hour": credits, "confirmed": True,
                         "vllm_args": vllm_args if vllm_args is not None else
                         [f"--tensor-parallel-size={tp}", f"--max-model-len={max_len}",
                          f"--gpu-memory-utilization={util}"]}
    plan["workers"] = {"engine_path": "registry", "gpu_requests": tp, "tensor_parallel_size": tp, "num_workers": 1,
                       "min_instances": min_instances, "max_instances": max_instances, "confirmed": True}
    plan["snowflake"] = {"database": "ML", "schema": "LLMS", "compute_pool": pool, "service_name": service,
                         "warehouse": "ML_WH", "connection": "llm"}
    if role:
        plan["snowflake"]["role"] = role
    for dotted, value in extra.items():
        plan_file.update(plan, "test", {dotted.replace("__", "."): value})
    plan.pop("history", None)
    assert plan_file.validate(plan) == [], plan_file.validate(plan)
    return plan


# name -> (plan, choices): the rendered scripts under tests/golden/registry/<name>.py.golden
def golden_cases() -> dict[str, tuple[dict, Choices]]:
    return {
        "tp1_gpu_nv_s": (make_plan(), Choices()),
        "tp4_gpu_nv_m": (
            make_plan(family="GPU_NV_M", gpus=4, tp=4, max_len=16384, util=0.92, model="Qwen/Qwen2.5-32B-Instruct",
                      service="QWEN32_SVC", min_instances=0, max_instances=2, credits=2.68,
                      vllm_args=["--tensor-parallel-size=4", "--max-model-len=16384",
                                 "--gpu-memory-utilization=0.92", "--enable-prefix-caching", "--max-num-seqs=64"]),
            Choices(hf_secret="HF_TOKEN_SECRET"),
        ),
        "pre_logged": (make_plan(service="TINYLLAMA_SVC"),
                       Choices(pre_logged="TINYLLAMA-1.1B-CHAT-V1.0-20260902")),
    }


def render_case(plan: dict, choices: Choices, out_dir: Path = GOLDEN_OUT) -> str:
    from spcs_llm.registry.script import render_script

    spec = build_spec(plan, "deployment.yaml", choices)
    return render_script(spec, script_paths(spec, out_dir))


def make_snapshot(root: Path) -> Path:
    """A downloaded-model folder as the offline route expects it (tiny stand-in weights)."""
    snap = root / "Qwen2.5-0.5B-Instruct"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({"architectures": ["Qwen2ForCausalLM"]}))
    (snap / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    (snap / "model.safetensors").write_bytes(b"\0" * 64)
    return snap


# ---- a stand-in `snowflake` package ------------------------------------------------------------
# It records every call into $FAKE_SF_CALLS (JSON lines) and behaves per $FAKE_SF_SCENARIO (JSON):
# role, existing (model version already registered), create_error (message raised by create_service).
_FAKE_MODULES = {
    "snowflake/__init__.py": "",
    "snowflake/_fake.py": '''
        import json, os

        SCENARIO = json.loads(os.environ.get("FAKE_SF_SCENARIO", "{}"))

        def record(call, **kwargs):
            with open(os.environ["FAKE_SF_CALLS"], "a", encoding="utf-8") as out:
                out.write(json.dumps({"call": call, "kwargs": kwargs}, default=repr) + "\\n")
    ''',
    "snowflake/snowpark/__init__.py": '''
        from snowflake._fake import SCENARIO, record

        class _Session:
            def get_current_role(self):
                return '"' + SCENARIO.get("role", "ML_DEPLOYER") + '"'

            def use_database(self, name):
                record("use_database", name=name)

            def use_schema(self, name):
                record("use_schema", name=name)

            def use_warehouse(self, name):
                record("use_warehouse", name=name)

            def sql(self, query):
                record("sql", query=query)
                return _Result(SCENARIO.get("pools", []))

        class _Row(dict):
            def as_dict(self):
                return dict(self)

        class _Result:
            def __init__(self, rows):
                self.rows = [_Row(r) for r in rows]

            def collect(self):
                return self.rows

        class _Builder:
            def config(self, key, value):
                record("builder.config", key=key, value=value)
                return self

            def create(self):
                if SCENARIO.get("login_error"):
                    raise RuntimeError(SCENARIO["login_error"])
                return _Session()

        class Session:
            builder = _Builder()
    ''',
    "snowflake/ml/__init__.py": "",
    "snowflake/ml/model/__init__.py": '''
        from snowflake._fake import record

        class TransformersPipeline:
            def __init__(self, model, task=None, **kwargs):
                record("TransformersPipeline", model=model, task=task, **kwargs)
                self.model, self.task, self.repo_snapshot_dir = model, task, None
    ''',
    "snowflake/ml/model/openai_signatures.py": '''
        OPENAI_CHAT_WITH_PARAMS_SIGNATURE = {"__call__": "chat-with-params"}
    ''',
    "snowflake/ml/registry/__init__.py": '''
        from snowflake._fake import SCENARIO, record

        class _Spec:
            def __init__(self, name):
                self.name = name

        class _Signature:
            inputs = [_Spec("messages")]
            params = [_Spec("temperature"), _Spec("max_completion_tokens")]

            def to_dict(self):
                return {"inputs": [{"name": "messages", "specs": [{"name": "content", "specs": []}]}]}

        class _Services:
            def to_json(self, orient):
                return '[{"name": "ML.LLMS.QWEN_SVC", "status": "PENDING", "inference_endpoint": null}]'

        class _Version:
            def __init__(self, name):
                self.version_name = name

            def create_service(self, **kwargs):
                record("create_service", **kwargs)
                if SCENARIO.get("create_error"):
                    raise RuntimeError(SCENARIO["create_error"])
                return "Inference service deployment complete"

            def show_functions(self):
                return [{"name": "__CALL__", "signature": _Signature()}]

            def list_services(self):
                return _Services()

        class _Model:
            def __init__(self, name):
                self.name = name

            def version(self, name):
                record("version", name=name)
                if not SCENARIO.get("existing"):
                    raise ValueError("Unable to find version or alias with name " + name)
                return _Version(name)

            @property
            def default(self):
                record("default")
                return _Version("V_DEFAULT")

        class Registry:
            def __init__(self, session, *, database_name=None, schema_name=None, options=None):
                record("Registry", database_name=database_name, schema_name=schema_name)

            def get_model(self, name):
                record("get_model", name=name)
                if not SCENARIO.get("existing") and SCENARIO.get("route") != "pre-logged":
                    raise ValueError("Unable to find model " + name)
                return _Model(name)

            def log_model(self, model, **kwargs):
                record("log_model", snapshot=getattr(model, "repo_snapshot_dir", None), **kwargs)
                print("progress: token=" + SCENARIO.get("leak", "none"))
                return _Version(kwargs["version_name"])
    ''',
}


def write_fake_snowflake(root: Path) -> Path:
    for rel, text in _FAKE_MODULES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def run_rendered(script: Path, fake_root: Path, tmp: Path, scenario: dict, *, extra_args: list[str] = ()):
    """Run a rendered script against the stand-in package, with no site-packages (-S) so neither
    the real Snowflake libraries nor the pack can be imported. Returns (process, calls, result)."""
    calls = tmp / "calls.jsonl"
    calls.unlink(missing_ok=True)
    if "pools" not in scenario:  # unless a test says otherwise, the pool exists with the planned family
        family = re.search(r'^INSTANCE_FAMILY = "?(\w+)"?$', script.read_text(), re.M).group(1)
        pool = re.search(r'^COMPUTE_POOL = "(\w+)"$', script.read_text(), re.M).group(1)
        scenario = {**scenario, "pools": [{"name": pool, "instance_family": family, "state": "IDLE"}]}
    result_path, log_path = tmp / "result.json", tmp / "deploy.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(fake_root),
           "FAKE_SF_CALLS": str(calls), "FAKE_SF_SCENARIO": json.dumps(scenario)}
    proc = subprocess.run([sys.executable, "-S", str(script), "--log", str(log_path), "--result", str(result_path),
                           *extra_args], capture_output=True, text=True, env=env, timeout=60)
    records = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    result = json.loads(result_path.read_text()) if result_path.exists() else None
    return proc, records, result, log_path
