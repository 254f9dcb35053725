"""The status probe (rest/probe.py) against the ingress simulator: a one-token chat request per route."""

from __future__ import annotations

from rest_testkit import CANARY, NO_GRANT

from spcs_llm.rest.probe import chat_probe, probe_target

PLAN = {"engine_path": "registry", "registry": {"model_name": "qwen2_5_7b_instruct"}}


def test_answers_on_the_openai_route(simulator):
    sim = simulator()
    probe = chat_probe(probe_target(PLAN, sim.url), CANARY)
    assert probe["result"] == "answering" and probe["route"] == "/v1/chat/completions" and probe["http_status"] == 200
    assert sim.seen[0]["body"]["max_tokens"] == 1 and sim.seen[0]["body"]["model"] == "QWEN2_5_7B_INSTRUCT"


def test_falls_back_to_the_method_route(simulator):
    sim = simulator(openai_route=False)
    probe = chat_probe(probe_target(PLAN, sim.url), CANARY)
    assert probe["result"] == "answering" and probe["route"] == "/--call--"


def test_refused_token_is_auth_failed_not_ready(simulator):
    sim = simulator()
    probe = chat_probe(probe_target(PLAN, sim.url), NO_GRANT)
    assert probe["result"] == "auth-failed" and probe["http_status"] == 404
    assert "spcs-llm endpoint test" in probe["detail"] and len(sim.seen) == 2  # both routes tried


def test_loading_is_not_answering(simulator):
    sim = simulator(loading=5)
    probe = chat_probe(probe_target(None, sim.url), CANARY)
    assert probe["result"] == "not-answering" and probe["http_status"] == 502 and probe["route"] == "/--call--"
