"""The gateway against the ingress simulator: the real `openai` client and a raw Bearer-sending
client work unchanged; the token goes out as Snowflake Token; an ingress 404 comes back as a 401
that says why; remote binds need their own key. The canary PAT is never printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import openai
import pytest
import requests
from rest_testkit import CANARY, NO_GRANT, FakeOAuth, serving
from snowflake_testkit import prepare_offline, run_text, write_plan

from spcs_llm.rest.gateway import Gateway, StaticToken

SERVED = "QWEN2_5_7B_INSTRUCT"


def gateway_for(sim, token: str = CANARY, **settings) -> Gateway:
    return Gateway(sim.url, StaticToken(token), served_model=SERVED,
                   aliases=("Qwen/Qwen2.5-7B-Instruct", "qwen2_5_7b_instruct"), **settings)


def test_openai_sdk_chat_and_stream_through_the_gateway(loop_thread, simulator):
    sim = simulator(token_delay=0.002)
    with serving(loop_thread, gateway_for(sim)) as gw:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{gw.port}/v1", api_key="anything-the-tool-wants")
        reply = client.chat.completions.create(model="qwen2.5-7b-instruct", max_tokens=4,
                                               messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "tok0 tok1 tok2 tok3" and reply.usage.completion_tokens == 4
        stream = client.chat.completions.create(model="Qwen/Qwen2.5-7B-Instruct", max_tokens=5, stream=True,
                                                messages=[{"role": "user", "content": "hi"}])
        pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
        assert pieces == [f"tok{i} " for i in range(5)]
        assert [m.id for m in client.models.list()] == [SERVED]
    chats = [s for s in sim.seen if s["path"] == "/v1/chat/completions"]
    assert [s["body"]["model"] for s in chats] == [SERVED, SERVED]  # mapped to the registry's upper-case name
    assert all(s["authorization"] == f'Snowflake Token="{CANARY}"' for s in chats)
    assert not any("anything-the-tool-wants" in str(h) for h in sim.container_headers)


def test_raw_bearer_client_and_no_key_client(loop_thread, simulator):
    sim = simulator()
    with serving(loop_thread, gateway_for(sim)) as gw:
        url = f"http://127.0.0.1:{gw.port}/v1/chat/completions"
        body = {"model": SERVED, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
        bearer = requests.post(url, json=body, headers={"Authorization": "Bearer sk-local"}, timeout=5)
        no_key = requests.post(url, json={**body, "model": None}, timeout=5)
    assert bearer.status_code == 200 and bearer.json()["usage"]["completion_tokens"] == 3
    assert no_key.status_code == 200 and sim.seen[-1]["body"]["model"] == SERVED
    assert [s["authorization"] for s in sim.seen] == [f'Snowflake Token="{CANARY}"'] * 2


def test_ingress_404_becomes_a_readable_401(loop_thread, simulator):
    sim = simulator()
    with serving(loop_thread, gateway_for(sim, token=NO_GRANT)) as gw:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{gw.port}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            client.chat.completions.create(model=SERVED, messages=[{"role": "user", "content": "hi"}])
        assert gw.stats["auth_404"] == 1
    message = str(caught.value)
    assert "answered 404" in message and "ALL_ENDPOINTS_USAGE" in message and "network policy" in message
    assert NO_GRANT not in message


def test_unknown_model_keeps_vllms_404(loop_thread, simulator):
    sim = simulator()
    with serving(loop_thread, gateway_for(sim)) as gw:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{gw.port}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(model="llama-3-70b", messages=[{"role": "user", "content": "hi"}])
    assert "does not exist" in str(caught.value) and gw.stats["auth_404"] == 0


def test_loading_502_is_passed_through(loop_thread, simulator):
    sim = simulator(loading=1)
    with serving(loop_thread, gateway_for(sim)) as gw:
        answer = requests.post(f"http://127.0.0.1:{gw.port}/v1/chat/completions", timeout=5,
                               json={"model": SERVED, "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 502


def test_local_api_key_is_required_when_set(loop_thread, simulator):
    sim = simulator()
    with serving(loop_thread, gateway_for(sim, local_key="local-key-123456")) as gw:
        url = f"http://127.0.0.1:{gw.port}/v1/chat/completions"
        body = {"model": SERVED, "messages": [{"role": "user", "content": "hi"}]}
        wrong = requests.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=5)
        right = requests.post(url, json=body, headers={"Authorization": "Bearer local-key-123456"}, timeout=5)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_local_api_key"
    assert right.status_code == 200 and len(sim.seen) == 1  # the refused call never reached the ingress


# ---- the step ------------------------------------------------------------------------------------

@pytest.fixture
def offline(monkeypatch, tmp_path):
    return prepare_offline(monkeypatch, tmp_path)


@pytest.mark.parametrize("argv, message", [
    (["--host", "0.0.0.0"], "would let other machines use your Snowflake token"),
    (["--host", "0.0.0.0", "--allow-remote"], "needs a local API key of its own"),
    (["--port", "70000"], "is not a port number"),
    ([], "no --endpoint given and no ingress URL recorded"),
])
def test_refused_settings(offline, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    code, _, err = run_text(capsys, "gateway", *argv)
    assert code == 2 and message in err and CANARY not in err


def test_check_reads_the_plan(offline, monkeypatch, capsys):
    write_plan(offline / "deployment.yaml", engine_path="registry", registry__model_name="qwen2_5_7b_instruct",
               registry__ingress_url="https://a1b2c3-myorg-ml-prod.snowflakecomputing.app")
    monkeypatch.setenv("SNOWFLAKE_PAT", CANARY)
    monkeypatch.setenv("GW_KEY", "local-key-abcdef")
    code, out, err = run_text(capsys, "gateway", "--check", "--host", "0.0.0.0", "--allow-remote",
                              "--api-key-env", "GW_KEY")
    assert code == 0 and "forwards to https://a1b2c3-myorg-ml-prod.snowflakecomputing.app" in out
    assert f"model: {SERVED}" in out and "api_key=<the local API key>" in out
    assert "base_url=http://0.0.0.0" not in out and "base_url=http://127.0.0.1:8088/v1 on this machine" in out
    assert "http://<this machine's address>:8088/v1 from containers" in out
    assert CANARY not in out + err and "local-key-abcdef" not in out + err


def test_gateway_command_end_to_end(offline, loop_thread, simulator):
    """`spcs-llm gateway` as a process: the OpenAI SDK through it, then SIGTERM; the PAT (from a
    file) appears nowhere in its output."""
    sim = simulator()
    pat = offline / "pat.txt"
    pat.write_text(CANARY + "\n")
    pat.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k != "SNOWFLAKE_PAT"}
    proc = subprocess.Popen([sys.executable, "-m", "spcs_llm.cli", "gateway", "--endpoint", sim.url, "--pat-file",
                             str(pat), "--port", "0", "--model", SERVED], cwd=offline, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = _listening_url(proc)
        client = openai.OpenAI(base_url=base, api_key="sk-anything", max_retries=0)
        reply = client.chat.completions.create(model=SERVED, messages=[{"role": "user", "content": "hi"}],
                                               max_tokens=2)
        assert reply.choices[0].message.content == "tok0 tok1"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "gateway stopped: 1 requests" in out
    assert "POST /v1/chat/completions -> 200" in err
    assert CANARY not in out + err


def _listening_url(proc) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "gateway listening" in line:
            return line.split(": ", 1)[1].strip()
        if not line and proc.poll() is not None:
            break
    raise AssertionError("the gateway did not start")



# ---- key-pair tokens -----------------------------------------------------------------------------

def test_keypair_token_is_exchanged_and_refreshed_after_an_ingress_404(loop_thread, simulator, tmp_path, monkeypatch):
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from spcs_llm.rest import keypair
    from spcs_llm.rest.keypair import KeyPairToken, load_private_key

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.p8"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    oauth = FakeOAuth(["kp-stale-token-111", "kp-fresh-token-222"])
    monkeypatch.setattr(keypair, "requests", oauth)
    sim = simulator()
    sim.tokens.update({"kp-stale-token-111": False, "kp-fresh-token-222": True})
    host = sim.url.split("://")[1]
    tokens = KeyPairToken(account="myorg-myacct", user="llm_svc_app", role="LLM_SVC_CALLER",
                          private_key=load_private_key(str(pem)), ingress_host=host)
    with serving(loop_thread, Gateway(sim.url, tokens, served_model=SERVED)) as gw:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{gw.port}/v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(model=SERVED, messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content.startswith("tok0")
    assert [s["authorization"] for s in sim.seen] == ['Snowflake Token="kp-stale-token-111"',
                                                      'Snowflake Token="kp-fresh-token-222"']
    (url, data), _ = oauth.posts  # the refused token made the gateway exchange a new one
    assert url == "https://myorg-myacct.snowflakecomputing.com/oauth/token"
    assert data["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert data["scope"] == f"session:role:LLM_SVC_CALLER {host}"
    claims = jwt.decode(data["assertion"], key.public_key(), algorithms=["RS256"])
    assert claims["sub"] == "MYORG-MYACCT.LLM_SVC_APP" and claims["iss"].startswith("MYORG-MYACCT.LLM_SVC_APP.SHA256:")
    assert claims["exp"] - claims["iat"] == 59 * 60


def test_keypair_settings_from_the_plan(offline, capsys, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = offline / "key.p8"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pem.chmod(0o600)
    write_plan(offline / "deployment.yaml", engine_path="registry", registry__model_name="m",
               registry__ingress_url="https://a1b2c3-myorg-ml-prod.snowflakecomputing.app",
               snowflake__account="MYORG-ML_PROD", rest__token_method="keypair", rest__private_key_file=str(pem),
               rest__caller_user="LLM_SVC_APP", rest__caller_role="LLM_SVC_CALLER")
    code, out, err = run_text(capsys, "gateway", "--check")
    assert code == 0 and f"key pair {pem} (user LLM_SVC_APP, role LLM_SVC_CALLER" in out
    assert "PRIVATE KEY" not in out + err
