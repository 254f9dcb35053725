"""Connection resolution: the connector's rules, reproduced (temporary SNOWFLAKE_HOME dirs)."""

from __future__ import annotations

import os
import stat

import pytest

from spcs_llm.errors import SpcsLlmError
from spcs_llm.redact import redact
from spcs_llm.snowflake import config

CONNECTIONS = """
[dev]
account = "myorg-dev"
user = "ALICE"
password = "s3cret-dev-password"
role = "ML_ENGINEER"

[prod]
account = "myorg-prod"
user = "BOB"
authenticator = "externalbrowser"
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    for var in ("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "SNOWFLAKE_CONNECTION_NAME", "SNOWFLAKE_CONNECTIONS",
                "SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION", "SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION",
                "SF_SKIP_WARNING_FOR_READ_PERMISSIONS_ON_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path))
    return tmp_path


def write(path, text, mode=0o600):
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_explicit_name_wins_over_every_env_var(home, monkeypatch):
    write(home / "connections.toml", CONNECTIONS)
    monkeypatch.setenv("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "prod")
    monkeypatch.setenv("SNOWFLAKE_CONNECTION_NAME", "prod")
    resolved = config.resolve_connection("dev")
    assert resolved.name == "dev" and resolved.name_source == "--connection"
    assert resolved.params["user"] == "ALICE"


def test_connector_variable_beats_cli_variable(home, monkeypatch):
    write(home / "connections.toml", CONNECTIONS)
    monkeypatch.setenv("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "prod")
    monkeypatch.setenv("SNOWFLAKE_CONNECTION_NAME", "dev")
    assert config.resolve_connection().name == "prod"
    monkeypatch.delenv("SNOWFLAKE_DEFAULT_CONNECTION_NAME")
    resolved = config.resolve_connection()
    assert (resolved.name, resolved.name_source) == ("dev", "SNOWFLAKE_CONNECTION_NAME")


def test_default_connection_name_from_config_toml_then_builtin_default(home):
    write(home / "config.toml", 'default_connection_name = "prod"\n')
    write(home / "connections.toml", CONNECTIONS)
    assert config.resolve_connection().name == "prod"
    write(home / "config.toml", "")
    with pytest.raises(SpcsLlmError) as err:
        config.resolve_connection()
    assert "'default'" in err.value.message and "dev, prod" in err.value.message


def test_connections_toml_replaces_the_connections_table_of_config_toml(home):
    write(home / "config.toml", '[connections.old]\naccount = "x"\n')
    assert config.available_connections() == ["old"]
    write(home / "connections.toml", CONNECTIONS)
    assert config.available_connections() == ["dev", "prod"]


def test_connections_in_config_toml_alone(home):
    write(home / "config.toml", 'default_connection_name = "a"\n[connections.a]\naccount = "acct-a"\n')
    assert config.resolve_connection().params["account"] == "acct-a"


def test_env_connections_toml_string_replaces_files(home, monkeypatch):
    write(home / "connections.toml", CONNECTIONS)
    monkeypatch.setenv("SNOWFLAKE_CONNECTIONS", '[ci]\naccount = "ci-acct"\n')
    monkeypatch.setenv("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "ci")
    resolved = config.resolve_connection()
    assert resolved.params == {"account": "ci-acct"} and resolved.files == ()


def test_missing_files_error_names_the_paths(home):
    with pytest.raises(SpcsLlmError) as err:
        config.resolve_connection()
    assert err.value.exit_code == 3
    assert str(home / "connections.toml") in err.value.message
    assert str(home / "config.toml") in err.value.message


def test_unknown_connection_lists_available_names_and_file(home):
    write(home / "connections.toml", CONNECTIONS)
    with pytest.raises(SpcsLlmError) as err:
        config.resolve_connection("staging")
    message = err.value.message
    assert "'staging'" in message and "available: dev, prod" in message
    assert str(home / "connections.toml") in message and err.value.exit_code == 3


def test_group_writable_file_is_refused_like_the_connector(home):
    write(home / "connections.toml", CONNECTIONS, mode=0o660)
    with pytest.raises(SpcsLlmError) as err:
        config.resolve_connection("dev")
    assert "writable by group or others" in err.value.message and "chmod 0600" in err.value.hint


def test_world_readable_file_warns_unless_skipped(home, monkeypatch, capsys):
    write(home / "connections.toml", CONNECTIONS, mode=0o644)
    resolved = config.resolve_connection("dev")
    assert resolved.warnings and "chmod 0600" in resolved.warnings[0]
    assert "Bad owner or permissions" in capsys.readouterr().err
    monkeypatch.setenv("SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION", "true")
    assert config.resolve_connection("dev").warnings == ()


def test_snowflake_home_missing_falls_back_to_platform_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path / "absent"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    directory = config.config_directory()
    assert directory != tmp_path / "absent" and directory.name == "snowflake"


def test_passwords_are_registered_and_never_in_the_summary(home):
    write(home / "connections.toml", CONNECTIONS)
    resolved = config.resolve_connection("dev")
    assert "s3cret-dev-password" not in repr(resolved)
    assert "s3cret-dev-password" not in str(resolved.summary())
    assert redact("login with s3cret-dev-password") == "login with ****"
    assert resolved.summary()["role"] == "ML_ENGINEER"


@pytest.mark.parametrize(("params", "host", "china"), [
    ({"account": "myorg-acct"}, "myorg-acct.snowflakecomputing.com", False),
    ({"account": "xy12345.cn-northwest-1"}, "xy12345.cn-northwest-1.snowflakecomputing.cn", True),
    ({"account": "xy12345", "region": "cn-northwest-1"}, "xy12345.cn-northwest-1.snowflakecomputing.cn", True),
    ({"account": "a", "host": "a.privatelink.snowflakecomputing.com"}, "a.privatelink.snowflakecomputing.com",
     False),
])
def test_host_is_derived_like_the_connector(params, host, china):
    resolved = config.ResolvedConnection(name="x", name_source="test", params=params)
    assert resolved.host == host and resolved.is_china_host is china


def test_host_rule_matches_the_installed_connector():
    util_text = pytest.importorskip("snowflake.connector.util_text")
    for region, account in [(None, "abc"), ("cn-northwest-1", "abc"), (None, "abc.cn-northwest-1"),
                            ("us-west-2", "abc"), ("eu-central-1", "abc.eu-central-1")]:
        params = {"account": account, **({"region": region} if region else {})}
        ours = config.ResolvedConnection(name="x", name_source="t", params=params).host
        assert ours == util_text.construct_hostname(region, account)


def test_mode_constants_match_the_connector():
    manager = pytest.importorskip("snowflake.connector.config_manager")
    assert config._WRITABLE_BY_OTHERS == manager.WRITABLE_BY_OTHERS
    assert config._READABLE_BY_OTHERS == manager.READABLE_BY_OTHERS
    assert config._SKIP_WARNING_VARS[0] == manager.SKIP_WARNING_ENV_VAR
    assert stat.S_IWOTH & config._WRITABLE_BY_OTHERS


CONNECTOR_PROBE = """
import json
from snowflake.connector.config_manager import _get_default_connection_params
print(json.dumps(_get_default_connection_params()))
"""


@pytest.mark.parametrize(("config_toml", "env_name"), [
    ('default_connection_name = "prod"\n[connections.ignored]\naccount = "x"\n', None),
    ("", "dev"),
    ('default_connection_name = "dev"\n', "prod"),
])
def test_same_answer_as_the_installed_connector(home, monkeypatch, config_toml, env_name):
    """Run the real connector resolution in a fresh process (it reads SNOWFLAKE_HOME at import)."""
    import json
    import subprocess
    import sys

    pytest.importorskip("snowflake.connector")
    write(home / "config.toml", config_toml)
    write(home / "connections.toml", CONNECTIONS)
    if env_name:
        monkeypatch.setenv("SNOWFLAKE_DEFAULT_CONNECTION_NAME", env_name)
    probe = subprocess.run([sys.executable, "-c", CONNECTOR_PROBE], capture_output=True, text=True,
                           env=dict(os.environ), check=True)
    assert json.loads(probe.stdout) == config.resolve_connection().params
