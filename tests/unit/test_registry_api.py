"""The rendered script against the installed snowflake-ml-python: every keyword it passes is a real
parameter (so an API change fails here, not in a user's paid deployment), the copied constants
match the library, and the library's own spec builders accept what the script passes.

These tests import snowflake.ml (a few seconds); nothing connects to Snowflake.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import warnings
from pathlib import Path

import pytest
import yaml
from registry_testkit import golden_cases, make_plan, make_snapshot, render_case

from spcs_llm.registry import engine_args, script, spec

ml_model = pytest.importorskip("snowflake.ml.model")  # a dependency of the pack; skip only if it is absent

from snowflake.ml.model import ModelVersion, TransformersPipeline  # noqa: E402
from snowflake.ml.registry import Registry  # noqa: E402

ML_ROOT = Path(ml_model.__file__).resolve().parents[1]  # .../site-packages/snowflake/ml


def _named_parameters(func) -> set[str]:
    """Parameter names that can be passed by keyword (no **kwargs catch-all: it would accept typos)."""
    return {name for name, p in inspect.signature(func).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"}


# call name in the rendered script -> the installed callable it reaches
API = {
    "create_service": ModelVersion.create_service,
    "TransformersPipeline": TransformersPipeline.__init__,
    "log_model": Registry.log_model,
    "Registry": Registry.__init__,
}


def _calls(text: str):
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name in API:
                yield name, node


def _rendered_variants(tmp_path) -> dict[str, str]:
    texts = {name: render_case(plan, choices) for name, (plan, choices) in golden_cases().items()}
    snap = make_snapshot(tmp_path)
    texts["snapshot"] = render_case(make_plan(), spec.Choices(snapshot_dir=str(snap)))
    return texts


def test_every_keyword_in_the_rendered_scripts_is_a_real_parameter(tmp_path):
    seen: dict[str, set[str]] = {name: set() for name in API}
    for variant, text in _rendered_variants(tmp_path).items():
        for name, call in _calls(text):
            allowed = _named_parameters(API[name])
            for keyword in call.keywords:
                assert keyword.arg is not None, f"{variant}: **kwargs passed to {name}"
                assert keyword.arg in allowed, (
                    f"{variant}: {name}({keyword.arg}=...) is not a parameter of the installed "
                    f"snowflake-ml-python ({sorted(allowed)})")
                seen[name].add(keyword.arg)
            assert len(call.args) <= (1 if name == "log_model" else 0), f"{variant}: positional args to {name}"
    # the calls the deployment depends on are really in the scripts
    assert {"service_name", "service_compute_pool", "gpu_requests", "min_instances", "max_instances",
            "ingress_enabled", "inference_engine_options", "block"} <= seen["create_service"]
    assert {"model", "task", "compute_pool_for_log", "token_or_secret"} <= seen["TransformersPipeline"]
    assert {"model_name", "version_name", "target_platforms", "signatures", "options"} <= seen["log_model"]


def test_required_create_service_parameters_are_always_passed(tmp_path):
    required = {name for name, p in inspect.signature(ModelVersion.create_service).parameters.items()
                if p.default is inspect.Parameter.empty and p.kind is p.KEYWORD_ONLY}
    assert required == {"service_name", "service_compute_pool"}
    for variant, text in _rendered_variants(tmp_path).items():
        for name, call in _calls(text):
            if name == "create_service":
                assert required <= {k.arg for k in call.keywords}, variant


def _installed_block_list() -> set[str]:
    """The set literal inside ModelDeploymentSpec.add_inference_engine_spec, read from the source."""
    source = (ML_ROOT / "model/_client/service/model_deployment_spec.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == "add_inference_engine_spec":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Assign) and getattr(inner.targets[0], "id", None) == "block_list":
                    return set(ast.literal_eval(inner.value))
    raise AssertionError("block_list not found in the installed model_deployment_spec.py")


def test_block_list_copy_matches_the_installed_library():
    assert engine_args.VLLM_BLOCKED_ARGS == _installed_block_list()


def test_copied_constants_match_the_library():
    from snowflake.ml.model._client.model.model_version_impl import VLLM_SUPPORTED_TASKS
    from snowflake.ml.model._packager.model_env import model_env
    from snowflake.ml.model.compute_pool import DEFAULT_CPU_COMPUTE_POOL

    assert spec.DEFAULT_LOG_POOL == DEFAULT_CPU_COMPUTE_POOL
    assert script.CUDA_VERSION == model_env.DEFAULT_CUDA_VERSION
    assert spec.TASK in VLLM_SUPPORTED_TASKS


def _load_rendered(path: Path, name: str):
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


class _CapturingVersion:
    def __init__(self):
        self.kwargs = None

    def create_service(self, **kwargs):
        self.kwargs = kwargs
        return "ok"


@pytest.mark.parametrize("name", sorted(golden_cases()))
def test_the_library_builds_a_deployment_spec_from_the_scripts_arguments(name, tmp_path):
    """Feed the exact create_service arguments of the rendered script into the installed
    ModelDeploymentSpec (what create_service does before SYSTEM$DEPLOY_MODEL): no warning about
    dropped vLLM arguments, and the spec carries our GPUs, instances and engine arguments."""
    from snowflake.ml._internal.utils import sql_identifier
    from snowflake.ml.model._client.service.model_deployment_spec import ModelDeploymentSpec
    from snowflake.ml.model.inference_engine import InferenceEngine

    plan, choices = golden_cases()[name]
    built = spec.build_spec(plan, "deployment.yaml", choices)
    paths, _ = script.write_script(built, tmp_path)
    module = _load_rendered(paths.script, f"rendered_{name}")
    version = _CapturingVersion()
    module.deploy(version)
    kw = version.kwargs
    assert kw == built.create_service_kwargs()

    db, schema, service = sql_identifier.parse_fully_qualified_name(kw["service_name"])
    deploy_spec = ModelDeploymentSpec()
    deploy_spec.add_model_spec(database_name=sql_identifier.SqlIdentifier("ML"),
                               schema_name=sql_identifier.SqlIdentifier("LLMS"),
                               model_name=sql_identifier.SqlIdentifier("M"),
                               version_name=sql_identifier.SqlIdentifier("V1"))
    deploy_spec.add_service_spec(service_database_name=db, service_schema_name=schema, service_name=service,
                                 inference_compute_pool_name=sql_identifier.SqlIdentifier(kw["service_compute_pool"]),
                                 ingress_enabled=kw["ingress_enabled"], min_instances=kw["min_instances"],
                                 max_instances=kw["max_instances"], gpu=kw["gpu_requests"],
                                 num_workers=kw.get("num_workers"))
    options = kw["inference_engine_options"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a dropped (block-listed) argument warns
        deploy_spec.add_inference_engine_spec(inference_engine=InferenceEngine.from_value(options["engine"]),
                                              inference_engine_args=options["engine_args_override"])
    saved = yaml.safe_load(deploy_spec.save())
    service_spec = saved["service"]
    assert service_spec["name"] == kw["service_name"]
    assert service_spec["compute_pool"] == kw["service_compute_pool"]
    assert service_spec["gpu"] == str(kw["gpu_requests"])
    assert (service_spec["min_instances"], service_spec["max_instances"]) == (kw["min_instances"], kw["max_instances"])
    engine = service_spec["inference_engine_spec"]
    assert engine["inference_engine_name"] == "vllm"
    assert engine["inference_engine_args"] == built.engine_args
    assert "image_build" not in saved  # vLLM: no image build (service_ops.create_service)


def test_remote_route_sends_the_secret_by_name_to_the_import_job(tmp_path):
    """The TransformersPipeline the script builds, through the library's SYSTEM$IMPORT_MODEL spec
    builder: the model id, task and the secret's name go to the server, never a token."""
    from snowflake.ml.registry._manager.model_manager import ModelManager

    plan, choices = golden_cases()["tp4_gpu_nv_m"]
    built = spec.build_spec(plan, "deployment.yaml", choices)
    paths, _ = script.write_script(built, tmp_path)
    module = _load_rendered(paths.script, "rendered_remote")
    pipeline = module.build_model()
    assert pipeline.secret_identifier == "ML.LLMS.HF_TOKEN_SECRET"
    assert pipeline.compute_pool_for_log == spec.DEFAULT_LOG_POOL
    assert pipeline.repo_snapshot_dir is None  # -> remote logging (model_manager._log_model)
    manager = ModelManager.__new__(ModelManager)  # only the spec builder is used: no session
    text = manager._build_import_model_yaml_spec(
        model=pipeline, fq_model_name="ML.LLMS.QWEN2_5_32B_INSTRUCT", version_name="V1",
        compute_pool=pipeline.compute_pool_for_log, comment=None, conda_dependencies=None,
        pip_requirements=None, target_platforms=["SNOWPARK_CONTAINER_SERVICES"])
    imported = yaml.safe_load(text)
    hf = imported["models"][0]["hf_model"]
    assert hf["hf_model_name"] == "Qwen/Qwen2.5-32B-Instruct"
    assert hf["task"] == "text-generation"
    assert hf["token_secret_object"] == "ML.LLMS.HF_TOKEN_SECRET"
    assert imported["compute_pool"] == "SYSTEM_COMPUTE_POOL_CPU"


def test_snapshot_route_packages_the_local_files_with_a_vllm_ready_signature(tmp_path):
    """The offline route, through the installed packager (what log_model runs before uploading):
    the snapshot's files are copied into the model, the chat signature has `messages`, and a GPU
    runtime is recorded, which create_service(gpu_requests=...) and vLLM require."""
    from snowflake.ml.model._packager import model_packager

    snap = make_snapshot(tmp_path / "snap")
    built = spec.build_spec(make_plan(), "deployment.yaml", spec.Choices(snapshot_dir=str(snap)))
    paths, _ = script.write_script(built, tmp_path / "out")
    module = _load_rendered(paths.script, "rendered_snapshot")
    pipeline = module.build_model()
    assert pipeline.repo_snapshot_dir == str(snap)
    packager = model_packager.ModelPackager(str(tmp_path / "packaged"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "impossible to validate your model signatures"
        meta = packager.save(name="M", model=pipeline, signatures=module.chat_signature(),
                             target_platforms=["SNOWPARK_CONTAINER_SERVICES"],
                             options={"cuda_version": module.CUDA_VERSION})
    blob = tmp_path / "packaged" / "models" / "M" / "model"
    assert {"config.json", "tokenizer_config.json", "model.safetensors"} <= {p.name for p in blob.iterdir()}
    assert meta.models["M"].model_type == "huggingface_pipeline"
    assert meta.models["M"].options["is_repo_downloaded"] is True
    assert meta.env.cuda_version == module.CUDA_VERSION
    assert [s.name for s in meta.signatures["__call__"].inputs] == ["messages"]


def test_pre_logged_route_uses_the_snowflake_models_registry(tmp_path):
    plan, choices = golden_cases()["pre_logged"]
    text = render_case(plan, choices)
    registry_calls = [call for name, call in _calls(text) if name == "Registry"]
    assert len(registry_calls) == 1
    keywords = {k.arg: k.value for k in registry_calls[0].keywords}
    assert keywords["database_name"].id == "PRE_LOGGED_DATABASE"
    assert 'PRE_LOGGED_DATABASE = "SNOWFLAKE"' in text and 'PRE_LOGGED_SCHEMA = "MODELS"' in text
    assert "log_model" not in text and "TransformersPipeline" not in text
    # the quoted form parses to the case-sensitive name, as Registry.get_model does
    from snowflake.ml._internal.utils import sql_identifier
    assert sql_identifier.parse_fully_qualified_name('"TINYLLAMA-1.1B-CHAT-V1.0-20260902"')[2] == \
        '"TINYLLAMA-1.1B-CHAT-V1.0-20260902"'


def test_rendered_module_import_has_no_side_effects(tmp_path):
    """Importing the script (as the tests above do) must not connect or write: main() does."""
    plan, choices = golden_cases()["tp1_gpu_nv_s"]
    built = spec.build_spec(plan, "deployment.yaml", choices)
    paths, _ = script.write_script(built, tmp_path)
    before = set(tmp_path.iterdir())
    _load_rendered(paths.script, "rendered_quiet")
    assert set(tmp_path.iterdir()) == before
