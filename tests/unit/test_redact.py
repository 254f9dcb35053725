"""Secrets never reach the screen or a log: registered values and well-known shapes are masked."""

from __future__ import annotations

from spcs_llm.redact import MASK, redact, register_secret


def test_registered_secret_is_masked_everywhere_including_each_line():
    register_secret("line-one-secret\nline-two-secret")
    out = redact("a line-one-secret b line-two-secret c")
    assert out == f"a {MASK} b {MASK} c"


def test_known_token_shapes_are_masked():
    text = ('Authorization: Snowflake Token="abc.def.ghi" hf_' + "a" * 30 + " password=hunter22 "
            "HF_TOKEN=plainvalue123 -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----")
    out = redact(text)
    for leaked in ("abc.def.ghi", "a" * 30, "hunter22", "plainvalue123", "MIIE"):
        assert leaked not in out


def test_secret_object_names_in_specs_stay_visible():
    # a spec's snowflakeSecret: names an object, it is not a secret value; dry runs must show it
    spec = "secrets:\n- snowflakeSecret:\n    objectName: LLM_DB.SERVING.HF_TOKEN\n  envVarName: HF_TOKEN"
    assert redact(spec) == spec


def test_a_registered_key_does_not_unmask_another_keys_body():
    """Registering a PEM key once (its armor lines included) made later key blocks leak their body,
    depending on test order: the armor lines were masked before the key-block pattern ran."""
    from spcs_llm.redact import register_secret

    register_secret("-----BEGIN PRIVATE KEY-----\nFIRSTKEYBODY123\n-----END PRIVATE KEY-----")
    out = redact("-----BEGIN PRIVATE KEY-----\nOTHERBODY456\n-----END PRIVATE KEY-----")
    assert "OTHERBODY456" not in out and "BEGIN PRIVATE KEY" in out


def test_prose_before_a_line_break_is_not_a_secret():
    """A checkpoint read "never the token:" then a ```bash fence on the next line, and the fence was
    masked (the key: value pattern crossed the line break): the user saw **** instead of a code block."""
    text = "I only need that path, never the token:\n\n```bash\nsnow sql -q \"...\"\n```"
    assert redact(text) == text
    assert MASK in redact("token: abc123") and "abc123" not in redact("password = 'hunter22'")


def test_json_output_stays_valid_and_masked():
    """--json output escapes quotes: `Token=\\"<pat>\\"` used to lose its backslash and keep the PAT."""
    import json

    payload = json.dumps({"header": 'Authorization: Snowflake Token="abc123secret"', "cfg": "password='hunter22'"})
    out = redact(payload)
    assert "abc123secret" not in out and "hunter22" not in out
    assert json.loads(out) == {"header": f'Authorization: Snowflake Token="{MASK}"', "cfg": f"password='{MASK}'"}
