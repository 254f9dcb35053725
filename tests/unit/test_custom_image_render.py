"""The custom-image spec and SQL rendered from a plan: golden files for three plans, the spec
checked against the documented fields, exact egress hosts, MAX_BATCH_ROWS matched to the
proxy, node capacity, and names that cannot reach SQL unchecked.

Update the golden files after an intended change with:
  SPCS_LLM_UPDATE_GOLDEN=1 pytest tests/unit/test_custom_image_render.py
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest
import yaml

from spcs_llm.custom_image import render, settings, sources
from spcs_llm.custom_image.spec_schema import ALLOWED_KEYS, check_spec
from spcs_llm.errors import SpcsLlmError
from spcs_llm.prompts import render_prompt

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "custom_image"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "plan.yaml").exists())


def load_plan(case: str) -> dict:
    return yaml.safe_load((GOLDEN / case / "plan.yaml").read_text())


def rendered(case: str, **custom) -> tuple[settings.CustomImage, dict[str, str]]:
    plan = load_plan(case)
    plan.setdefault("custom_image", {}).update(custom)
    d = settings.resolve(plan)
    return d, render.render_all(d)


def spec_doc(files: dict[str, str], name: str = "service_spec.yaml") -> dict:
    return yaml.safe_load(files[name])


def test_three_golden_cases_exist():
    assert CASES == ["china_mirror_modelscope", "tp1_gpu_nv_s", "tp4_gpu_nv_m"]


@pytest.mark.parametrize("case", CASES)
def test_golden_files(case):
    _, files = rendered(case)
    for name, text in files.items():
        golden = GOLDEN / case / name
        if os.environ.get("SPCS_LLM_UPDATE_GOLDEN"):
            golden.write_text(text, encoding="utf-8")
        assert golden.exists(), f"missing {golden}; render it with SPCS_LLM_UPDATE_GOLDEN=1"
        assert text == golden.read_text(encoding="utf-8"), f"{case}/{name} differs from the golden file"


@pytest.mark.parametrize("case", CASES)
def test_specs_use_only_documented_fields(case):
    _, files = rendered(case)
    for name in render.SPEC_FILES:
        assert check_spec(spec_doc(files, name)) == [], name
        # the SQL embeds exactly the spec that was checked
    for part in ("cache-job", "service", "upgrade"):
        sql = files[render.PARTS[part][0]]
        embedded = sql.split("$$")[1]
        expected = files["cache_job_spec.yaml" if part == "cache-job" else "service_spec.yaml"]
        assert embedded.strip() == expected.strip()


def test_the_field_table_cites_the_documented_top_levels():
    assert ALLOWED_KEYS[""] == {"spec", "capabilities", "serviceRoles"}
    assert {"containers", "endpoints", "volumes", "logExporters", "platformMonitor"} <= ALLOWED_KEYS["spec"]
    assert ALLOWED_KEYS["spec.volumes[].stageConfig"] == {"name", "metadataCache", "resources"}


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s["spec"].update(networkPolicyConfig={"allowInternetEgress": True}), "spec.networkPolicyConfig"),
    (lambda s: s["spec"]["containers"][0]["resources"]["limits"].update({"nvidia.com/gpu": 2}), "equal in requests"),
    (lambda s: s["spec"]["volumes"][1].pop("size"), "size is required"),
    (lambda s: s["spec"]["containers"][0]["resources"]["requests"].update(memory="25"), "needs a unit"),
    (lambda s: s["spec"]["volumes"].append({"name": "old", "source": "@stage"}), "deprecated"),
    (lambda s: s["spec"]["containers"][0]["volumeMounts"].append({"name": "nope", "mountPath": "/x"}),
     "names no volume"),
    (lambda s: s["spec"]["containers"][0]["secrets"][0].update(directoryPath="/s"), "exactly one of envVarName"),
    (lambda s: s["spec"]["endpoints"][0].update(name="API_1"), "not lower-case"),
    (lambda s: s["spec"]["logExporters"]["eventTableConfig"].update(logLevel="DEBUG"), "'DEBUG' is not one of"),
    (lambda s: s["spec"]["platformMonitor"]["metricConfig"]["groups"].append("gpu"), "unknown metric group"),
    (lambda s: s["spec"]["containers"][0]["readinessProbe"].update(initialDelaySeconds=60), "initialDelaySeconds"),
])
def test_the_spec_check_catches_departures(mutate, message):
    _, files = rendered("tp1_gpu_nv_s")
    doc = spec_doc(files)
    mutate(doc)
    problems = check_spec(doc)
    assert any(message in p for p in problems), problems


@pytest.mark.parametrize("case", CASES)
def test_gpus_equal_in_requests_and_limits_and_memory_fits_the_node(case):
    d, files = rendered(case)
    container = spec_doc(files)["spec"]["containers"][0]
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert requests["nvidia.com/gpu"] == limits["nvidia.com/gpu"] == d.tensor_parallel_size
    assert container["env"]["TENSOR_PARALLEL_SIZE"] == str(d.tensor_parallel_size)
    assert requests["memory"] == limits["memory"] == f"{d.resources.memory_gib}Gi"
    shm = next(v for v in spec_doc(files)["spec"]["volumes"] if v["source"] == "memory")
    per_instance = d.resources.memory_gib + int(shm["size"][:-2]) + settings.STAGE_MOUNT_MEMORY_GIB
    assert per_instance * d.resources.instances_per_node <= d.resources.node_memory_gib
    assert {"name": shm["name"], "mountPath": "/dev/shm"} in container["volumeMounts"]


def test_tp4_gets_a_shm_volume_sized_for_nccl_and_waits_for_the_cache_job():
    d, files = rendered("tp4_gpu_nv_m")
    doc = spec_doc(files)["spec"]
    assert {"name": "dshm", "source": "memory", "size": "10Gi"} in doc["volumes"]
    assert d.resources.node_facts.startswith("snowflake.live_instance_family")
    assert d.resources.memory_gib == 176 - 1 - 10 - 1  # live memory, headroom, /dev/shm, stage mount
    env = doc["containers"][0]["env"]
    assert env["WEIGHTS_ON_MISSING"] == "wait"  # two instances must not write the same files
    assert env["TRUST_REMOTE_CODE"] == "true"
    assert env["VLLM_EXTRA_ARGS"] == '["--enable-prefix-caching", "--max-num-seqs=128"]'
    assert "MIN_INSTANCES = 1\n  MAX_INSTANCES = 2" in files["05_service.sql"]


def test_stage_volume_and_secret_in_the_documented_forms():
    _, files = rendered("tp1_gpu_nv_s")
    for name in render.SPEC_FILES:
        doc = spec_doc(files, name)["spec"]
        stage = next(v for v in doc["volumes"] if v["source"] == "stage")
        assert stage["stageConfig"] == {"name": "@LLM_DB.SERVING.SPCS_LLM_WEIGHTS"}
        assert '"@LLM_DB.SERVING.SPCS_LLM_WEIGHTS"' in files[name]  # double-quoted, as the docs require
        assert doc["containers"][0]["secrets"] == [{"snowflakeSecret": {"objectName": "LLM_DB.SERVING.HF_TOKEN"},
                                                    "envVarName": "HF_TOKEN", "secretKeyRef": "secret_string"}]
    service = spec_doc(files)["spec"]["containers"][0]
    assert service["readinessProbe"]["path"] == "/health"
    assert service["readinessProbe"]["port"] == spec_doc(files)["spec"]["endpoints"][0]["port"]


def _value_list(sql: str) -> list[str]:
    block = re.search(r"VALUE_LIST = \((.*?)\)\n", sql, re.S).group(1)
    return re.findall(r"'([^']+)'", block)


@pytest.mark.parametrize("case", CASES)
def test_egress_lists_exactly_the_hosts_of_the_chosen_sources(case):
    d, files = rendered(case)
    plan = load_plan(case)
    extra = tuple((plan.get("custom_image") or {}).get("extra_egress_hosts", []))
    expected = []
    for name in d.weight_sources:
        expected += [h for h in sources.SOURCES[name].hosts if h not in expected]
    expected += [h for h in extra if h not in expected]
    assert _value_list(files["01_setup.sql"]) == [f"{h}:443" for h in expected]
    for name in render.SPEC_FILES:
        env = spec_doc(files, name)["spec"]["containers"][0]["env"]
        assert env["WEIGHTS_ALLOWED_HOSTS"].split(",") == expected
        assert env["WEIGHT_SOURCES"] == ",".join(d.weight_sources)
    # and nothing from a source that was not chosen
    for name, source in sources.SOURCES.items():
        if name not in d.weight_sources:
            assert not set(source.hosts) & set(expected) - set(extra), name


def test_china_defaults_to_the_mirror_then_modelscope():
    d, files = rendered("china_mirror_modelscope")
    assert d.weight_sources == ("hf-mirror", "modelscope")
    env = spec_doc(files)["spec"]["containers"][0]["env"]
    assert env["HF_ENDPOINT"] == "https://hf-mirror.com"
    assert env["MODELSCOPE_MODEL_ID"] == "qwen/Qwen2.5-7B-Instruct-AWQ"
    # a pre-quantized checkpoint: vLLM reads the method from its config (and picks awq_marlin where it can)
    assert "QUANTIZATION" not in env
    assert "huggingface.co:443" not in files["01_setup.sql"]


def test_a_private_mirror_needs_only_its_own_host():
    _, files = rendered("china_mirror_modelscope", hf_mirror_endpoint="https://hf.corp.example.cn",
                        weight_sources=["hf-mirror"], extra_egress_hosts=[])
    assert _value_list(files["01_setup.sql"]) == ["hf.corp.example.cn:443"]


@pytest.mark.parametrize("case", CASES)
def test_max_batch_rows_matches_the_proxy_concurrency(case):
    d, files = rendered(case)
    rows = re.findall(r"MAX_BATCH_ROWS = (\d+)", files["07_function.sql"])
    assert rows == [str(d.proxy_concurrency)] * 2
    assert spec_doc(files)["spec"]["containers"][0]["env"]["PROXY_CONCURRENCY"] == str(d.proxy_concurrency)
    assert "AS '/complete'" in files["07_function.sql"] and "ENDPOINT = api" in files["07_function.sql"]


def test_plan_concurrency_defaults_and_smaller_batches_are_allowed():
    d, _ = rendered("tp1_gpu_nv_s")
    assert (d.proxy_concurrency, d.max_batch_rows) == (32, 32)  # request.concurrency 24 is below the default
    d, files = rendered("tp1_gpu_nv_s", max_batch_rows=8)
    assert "MAX_BATCH_ROWS = 8" in files["07_function.sql"]


@pytest.mark.parametrize(("planned", "expected"), [(None, 32), (1, 32), (100, 100)])
def test_the_sizing_concurrency_never_makes_batches_row_by_row(planned, expected):
    # request.concurrency counts full-length requests for sizing (the plan's default is 1); it may
    # raise the rows in flight but never lower them to a row-by-row MAX_BATCH_ROWS = 1.
    plan = load_plan("tp1_gpu_nv_s")
    plan["request"]["concurrency"] = planned
    d = settings.resolve(plan)
    assert (d.proxy_concurrency, d.max_batch_rows) == (expected, expected)


def test_batches_larger_than_the_concurrency_are_refused():
    with pytest.raises(SpcsLlmError, match="max_batch_rows 40 exceeds the proxy concurrency 32"):
        rendered("tp1_gpu_nv_s", max_batch_rows=40)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("service_name", "llm-service", "service name 'llm-service' is not a plain Snowflake identifier"),
    ("function_name", "F; DROP TABLE T", "custom_image.function_name 'F; DROP TABLE T'"),
    ("weights_stage", "STAGE'", "custom_image.weights_stage"),
    ("eai", '"Quoted"', "custom_image.eai"),
    ("hf_secret", "a.b.c.d", "must have the form"),
    ("consumer_roles", ["ok", "bad role"], "custom_image.consumer_roles 'bad role'"),
    ("image_name", "Bad/Name", "custom_image.image_name"),
    ("image_tag", "tag with space", "custom_image.image_tag"),
    ("vllm_base_image", "vllm/vllm-openai:latest", "must be a pinned image"),
    ("extra_egress_hosts", ["*.hf.co"], "not a full host name"),
    ("extra_egress_hosts", ["https://cdn.example.com"], "not a full host name"),
    ("hf_mirror_endpoint", "http://hf-mirror.com", "must be an https:// URL"),
    ("weight_sources", ["huggingface", "github"], "allowed (in order of preference"),
    ("weight_sources", ["modelscope", "modelscope"], "no repeats"),
    ("model_revision", "main; rm -rf", "not a branch, tag or commit"),
    ("log_level", "DEBUG", "allowed: INFO, ERROR, NONE"),
    ("proxy_port", 8000, "vLLM's own port"),
    ("cache_job_family", "GPU_NV_S", "is a GPU family"),
])
def test_bad_names_and_values_are_rejected_with_the_field_named(field, value, message):
    with pytest.raises(SpcsLlmError) as err:
        rendered("tp1_gpu_nv_s", **{field: value})
    assert message in str(err.value)


def test_bad_plan_names_are_rejected():
    plan = load_plan("tp1_gpu_nv_s")
    plan["snowflake"]["database"] = "LLM-DB"
    with pytest.raises(SpcsLlmError, match="snowflake.database 'LLM-DB'"):
        settings.resolve(plan)
    plan = load_plan("tp1_gpu_nv_s")
    plan["model"]["id"] = "meta-llama/x' OR 1=1"
    with pytest.raises(SpcsLlmError, match="not a hub repository id"):
        settings.resolve(plan)
    plan = load_plan("tp1_gpu_nv_s")
    plan["selection"]["vllm_args"] = ["--port=9000"]
    with pytest.raises(SpcsLlmError, match="sets a flag the image sets"):
        settings.resolve(plan)


@pytest.mark.parametrize(("change", "message"), [
    ({"workers": {"gpu_requests": 2}, "selection": {"tensor_parallel_size": 2}}, "do not fit GPU_NV_S, which has 1"),
    ({"selection": {"tensor_parallel_size": 2}}, "must match"),
    ({"workers": {"memory_requests_gib": 5}}, "at least 4 GiB"),
    ({"workers": {"memory_requests_gib": 40}}, "exceed the 28 GiB"),
    ({"workers": {"cpu_requests": 12}}, "exceed the 6 vCPU"),
])
def test_resources_that_do_not_fit_the_node_are_refused(change, message):
    plan = load_plan("tp1_gpu_nv_s")
    for section, values in change.items():
        plan[section].update(values)
    with pytest.raises(SpcsLlmError, match=re.escape(message)):
        settings.resolve(plan)


def test_missing_plan_fields_name_the_step_that_sets_them():
    plan = load_plan("tp1_gpu_nv_s")
    del plan["snowflake"]["compute_pool"]
    with pytest.raises(SpcsLlmError) as err:
        settings.resolve(plan)
    assert "snowflake.compute_pool" in str(err.value) and "create-pool" in str(err.value)


def test_default_names_are_valid_dns_labels():
    assert settings.default_service_name("Qwen/Qwen2.5-7B-Instruct") == "LLM_QWEN2_5_7B_INSTRUCT"
    assert len(settings.default_service_name("org/" + "x" * 200)) <= 63


@pytest.mark.parametrize(("sql", "count"), [
    ("SELECT 1; SELECT 2;", 2),
    ("SELECT 'a;b'; SELECT 'it\\'s; fine';", 2),
    ("-- a comment; with a semicolon\nSELECT 1;", 1),
    ("CREATE SERVICE s FROM SPECIFICATION $$\nx: 'a;b'\ny: 1;\n$$\n  MIN_INSTANCES = 1;\nSELECT 3", 2),
])
def test_statement_splitter(sql, count):
    assert len(render.statements(sql)) == count


@pytest.mark.parametrize("case", CASES)
def test_statements_per_part(case):
    _, files = rendered(case)
    counts = {part: len(render.statements(files[file_name])) for part, (file_name, _, _) in render.PARTS.items()}
    assert counts["setup"] == 3 and counts["cache-job"] == 3 and counts["service"] == 1
    assert counts["egress"] == 3  # integration if missing, its rules (ALTER keeps grants), grant to the deploying role
    roles = len(load_plan(case).get("custom_image", {}).get("consumer_roles", []))
    assert counts["function"] == 2 + 4 * roles


def test_dollar_quotes_cannot_end_the_spec_early():
    assert render.validate_spec_text("spec:\n  containers:\n  - name: a\n    image: \"$$\"\n")[0].startswith(
        "the specification contains '$$'")


def test_values_are_yaml_safe_whatever_they_contain():
    d, files = rendered("tp1_gpu_nv_s", modelscope_model_id="org/name", weight_sources=["modelscope"],
                        model_revision="v1.0")
    plan = load_plan("tp1_gpu_nv_s")
    plan["selection"]["vllm_args"] = ['--chat-template-content-format="string"', "--served-model-name-x=a:b#c"]
    d = settings.resolve(plan)
    env = yaml.safe_load(render.render_specs(d)["service_spec.yaml"])["spec"]["containers"][0]["env"]
    assert env["VLLM_EXTRA_ARGS"] == '["--chat-template-content-format=\\"string\\"", "--served-model-name-x=a:b#c"]'


@pytest.mark.parametrize("case", CASES)
def test_the_checkpoint_prompt_renders(case, tmp_path):
    from spcs_llm.steps import render_custom

    d, files = rendered(case)
    data = render_custom._data(d, load_plan(case), tmp_path, files)
    data.update(plan_path="p", part=None, executed=False, statements=[], rows=[])
    text = render_prompt("deployment_summary_custom", **data)
    assert d.model_id in text and "Proceed?" in text and f"MAX_BATCH_ROWS {d.max_batch_rows}" in text


def test_plan_fields_written_back_are_all_known():
    from spcs_llm import plan_file

    d, _ = rendered("china_mirror_modelscope")
    plan = copy.deepcopy(load_plan("china_mirror_modelscope"))
    plan_file.update(plan, "render-custom", d.plan_fields())
    assert plan_file.validate(plan) == []


def test_sizing_flags_in_vllm_args_come_from_the_plan_fields():
    """The plan step writes --tensor-parallel-size etc. into selection.vllm_args as well as into the
    selection fields; the image sets them from the fields, so they are dropped when they agree."""
    plan = load_plan("tp1_gpu_nv_s")
    plan["selection"]["vllm_args"] = ["--tensor-parallel-size=1", "--max-model-len=8192",
                                      "--gpu-memory-utilization=0.9", "--enable-chunked-prefill"]
    assert settings.resolve(plan).vllm_extra_args == ("--enable-chunked-prefill",)
    plan["selection"]["vllm_args"] = ["--max-model-len=4096"]
    with pytest.raises(SpcsLlmError, match="disagrees with the plan's own value"):
        settings.resolve(plan)


def test_public_endpoint_adds_a_service_role_for_it():
    _, private = rendered("tp1_gpu_nv_s")
    assert "serviceRoles" not in spec_doc(private)
    assert spec_doc(private)["spec"]["endpoints"][0]["public"] is False
    _, public = rendered("tp1_gpu_nv_s", public_endpoint=True)
    doc = spec_doc(public)
    endpoint = doc["spec"]["endpoints"][0]
    assert endpoint["public"] is True and endpoint["protocol"] == "HTTP"
    assert doc["serviceRoles"] == [{"name": render.API_SERVICE_ROLE, "endpoints": [endpoint["name"]]}]
    assert check_spec(doc) == []


def test_check_spec_reports_any_shape_without_raising():
    """`manage upgrade --spec-file` checks a user's own file: wrong shapes are problems, not tracebacks."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from spcs_llm.custom_image.spec_schema import check_spec

    leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    keys = st.sampled_from(["spec", "containers", "volumes", "endpoints", "name", "image", "resources",
                            "requests", "limits", "volumeMounts", "secrets", "source", "stageConfig",
                            "platformMonitor", "metricConfig", "groups", "memory", "nvidia.com/gpu", "size"])
    values = st.recursive(leaves, lambda children: st.lists(children, max_size=3)
                          | st.dictionaries(keys, children, max_size=4), max_leaves=12)

    @settings(max_examples=300, derandomize=True, deadline=None)
    @given(st.dictionaries(keys, values, max_size=4))
    def check(doc):
        problems = check_spec(doc)
        assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)

    check()
    assert any("expected a list" in p for p in check_spec({"spec": {"containers": [], "volumes": 3}}))
