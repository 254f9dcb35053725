"""`spcs-llm usage`: the SQL call matches the chat signature (checked against the installed
openai_signatures and the way mv.run writes parameters), the Python snippet calls real APIs, the
REST snippet reads the PAT from the environment or a file, and output survives redaction intact."""

from __future__ import annotations

import ast
import inspect
import json

import pytest
from registry_testkit import make_plan
from snowflake_testkit import prepare_offline

from spcs_llm import cli, plan_file
from spcs_llm.errors import SpcsLlmError
from spcs_llm.redact import redact
from spcs_llm.registry import usage as usage_mod
from spcs_llm.registry.usage import build_usage, call_arguments, render_python, render_rest, render_sql

PAT_VALUE = "pat-value-that-must-not-appear-123456"


def deployed_plan(route="remote", **extra) -> dict:
    plan = make_plan(**extra)
    changes = {"registry.source": route, "registry.service_fqn": "ML.LLMS.QWEN_SVC"}
    if route == "pre-logged":
        changes.update({"registry.pre_logged_model": '"TINYLLAMA-1.1B-CHAT-V1.0-20260902"'})
    else:
        changes.update({"registry.model_name": "QWEN2_5_7B_INSTRUCT", "registry.version_name": "V1"})
    plan_file.update(plan, "test", changes)
    return plan


# ---- against the installed library -----------------------------------------------------------
def test_param_order_and_defaults_match_the_installed_signature():
    from snowflake.ml.model import openai_signatures

    params = openai_signatures.OPENAI_CHAT_WITH_PARAMS_SIGNATURE["__call__"].params
    assert [(p.name, p.default_value) for p in params] == list(usage_mod.CHAT_PARAMS)
    inputs = openai_signatures.OPENAI_CHAT_SIGNATURE["__call__"].inputs
    assert tuple(s.name for s in inputs) == usage_mod.CHAT_COLUMNS


def test_sql_parameters_are_written_as_mv_run_writes_them():
    """The params after `messages` equal what mv.run puts in its service-function call
    (param_utils.validate_and_resolve_params + format_param_value_for_sql)."""
    from snowflake.ml.model import openai_signatures
    from snowflake.ml.model._client.ops import param_utils

    usage = build_usage(deployed_plan())
    signature = openai_signatures.OPENAI_CHAT_WITH_PARAMS_SIGNATURE["__call__"]
    resolved = param_utils.validate_and_resolve_params(usage.settings, signature.params)
    expected = [(str(name).lower(), param_utils.format_param_value_for_sql(value)) for name, value in resolved]
    assert call_arguments(usage) == expected


def _keywords(text: str, attr: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name == attr:
                out |= {k.arg for k in node.keywords}
    return out


@pytest.mark.parametrize("route", ["remote", "snapshot", "pre-logged"])
def test_python_snippet_uses_real_parameters(route):
    from snowflake.ml.model import ModelVersion
    from snowflake.ml.registry import Registry

    text = render_python(build_usage(deployed_plan(route)))
    run_keywords = _keywords(text, "run")
    assert {"function_name", "service_name"} <= run_keywords
    assert run_keywords <= set(inspect.signature(ModelVersion.run).parameters)
    assert _keywords(text, "Registry") <= set(inspect.signature(Registry.__init__).parameters)
    assert ("params" in run_keywords) == (route != "pre-logged")


# ---- the snippets ------------------------------------------------------------------------------
def test_params_form_for_remote_logging():
    usage = build_usage(deployed_plan())
    sql = render_sql(usage)
    assert usage.signature.form == "params" and not usage.signature.verified
    assert "ML.LLMS.QWEN_SVC!__CALL__(" in sql
    assert "[{'role': 'user', 'content': [{'type': 'text', 'text': 'What is Snowflake?" in sql
    assert sql.count("-- temperature") == 2 and "response:choices[0]:message:content::STRING" in sql
    assert any("not yet checked against your model" in n for n in usage.notes)


def test_columns_form_for_a_snowflake_provided_model():
    usage = build_usage(deployed_plan("pre-logged"))
    assert usage.signature.form == "columns"
    assert [name for name, _ in call_arguments(usage)] == list(usage_mod.CHAT_COLUMNS[1:])
    assert call_arguments(usage)[0] == ("temperature", "0.2::FLOAT")
    assert usage.registry_database == "SNOWFLAKE" and usage.registry_schema == "MODELS"
    python = render_python(usage)
    assert "registry.get_model('\"TINYLLAMA-1.1B-CHAT-V1.0-20260902\"').default" in python
    rest = render_rest(usage)
    payload = ast.literal_eval(rest.split("payload = ", 1)[1].split("\n", 1)[0])
    assert len(payload["data"][0]) == 1 + len(usage_mod.CHAT_COLUMNS)  # row index + every input column


def test_recorded_signature_wins_over_the_route(tmp_path):
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"functions": [
        {"name": "__CALL__", "inputs": ["messages", "temperature", "max_completion_tokens"], "params": [],
         "object_content": False}],
        "services": [{"name": "ML.LLMS.QWEN_SVC", "inference_endpoint": "abc-xyz.snowflakecomputing.app"}]}))
    plan = deployed_plan()
    plan_file.update(plan, "test", {"registry.result_path": str(result)})
    usage = build_usage(plan)
    assert usage.signature.verified and usage.signature.form == "columns"
    assert [n for n, _ in call_arguments(usage)] == ["temperature", "max_completion_tokens"]
    assert "'content': 'What is Snowflake?" in render_sql(usage)  # content as a plain string
    assert usage.endpoint == "abc-xyz.snowflakecomputing.app"
    assert "ENDPOINT = 'abc-xyz.snowflakecomputing.app'" in render_rest(usage)


def test_a_non_chat_signature_is_refused(tmp_path):
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"functions": [{"name": "__CALL__", "inputs": ["inputs"], "params": []}]}))
    plan = deployed_plan()
    plan_file.update(plan, "test", {"registry.result_path": str(result)})
    with pytest.raises(SpcsLlmError, match="not chat messages"):
        build_usage(plan)


@pytest.mark.parametrize("route", ["remote", "pre-logged"])
def test_snippets_are_valid_python(route):
    usage = build_usage(deployed_plan(route), endpoint="https://abc.snowflakecomputing.app/")
    ast.parse(render_python(usage))
    rest = render_rest(usage)
    ast.parse(rest)
    assert "ENDPOINT = 'abc.snowflakecomputing.app'" in rest
    assert 'requests.post(f"https://{ENDPOINT}/--call--"' in rest


def test_rest_reads_the_pat_from_the_environment_or_a_file():
    rest = render_rest(build_usage(deployed_plan()))
    assert 'pat = os.environ["SNOWFLAKE_PAT"]' in rest
    assert '"Authorization": f\'{AUTH_SCHEME}="{pat}"\'' in rest and 'AUTH_SCHEME = "Snowflake Token"' in rest
    assert 'os.environ["SPCS_LLM_ENDPOINT"]' in rest  # no endpoint recorded yet
    rest = render_rest(build_usage(deployed_plan(), pat_file="~/.snowflake/pat.txt"))
    assert "pathlib.Path('~/.snowflake/pat.txt').expanduser().read_text" in rest
    rest = render_rest(build_usage(deployed_plan(), pat_env="MY_PAT"))
    assert 'os.environ["MY_PAT"]' in rest
    with pytest.raises(SpcsLlmError):
        build_usage(deployed_plan(), pat_env="MY PAT")


def test_bad_endpoint_is_refused():
    with pytest.raises(SpcsLlmError, match="not a host name"):
        build_usage(deployed_plan(), endpoint="https://a b/")


def test_quotes_in_the_prompt_are_escaped():
    sql = render_sql(build_usage(deployed_plan(), prompt="It's \\ fine"))
    assert "'It\\'s \\\\ fine'" in sql


# ---- the step --------------------------------------------------------------------------------
@pytest.fixture
def workdir(monkeypatch, tmp_path):
    prepare_offline(monkeypatch, tmp_path)
    monkeypatch.setenv("SNOWFLAKE_PAT", PAT_VALUE)
    return tmp_path


def test_step_output_survives_redaction_and_never_shows_the_pat(workdir, capsys):
    plan_file.save(deployed_plan(), workdir / "deployment.yaml")
    for fmt in (["--json"], [], ["--format", "prompt"]):
        assert cli.main(["usage", *fmt]) == 0
        out = capsys.readouterr().out
        assert PAT_VALUE not in out
        assert "****" not in out, "redaction changed a snippet"
    data = json.loads((cli.main(["usage", "--json"]), capsys.readouterr().out)[1])
    for text in data["snippets"].values():
        assert redact(text) == text


def test_step_only_one_section(workdir, capsys):
    plan_file.save(deployed_plan(), workdir / "deployment.yaml")
    assert cli.main(["usage", "--only", "sql", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["snippets"]) == ["sql"] and data["endpoint_sql"] == "SHOW ENDPOINTS IN SERVICE ML.LLMS.QWEN_SVC;"


def test_step_before_any_deployment_says_what_to_run(workdir, capsys):
    plan = make_plan()
    plan_file.save(plan, workdir / "deployment.yaml")
    assert cli.main(["usage"]) == 2
    assert "spcs-llm deploy-registry" in capsys.readouterr().err


def test_step_after_render_works_offline(workdir, capsys):
    plan_file.save(make_plan(), workdir / "deployment.yaml")
    assert cli.main(["deploy-registry"]) == 0
    capsys.readouterr()
    assert cli.main(["usage", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["service"] == "ML.LLMS.QWEN_SVC" and data["signature"]["form"] == "params"
    assert "version = registry.get_model('QWEN2_5_7B_INSTRUCT').version('V1')" in data["snippets"]["python"]
    assert "session.use_warehouse(\"ML_WH\")" in data["snippets"]["python"]
    assert "Session.builder.config(\"connection_name\", 'llm')" in data["snippets"]["python"]
