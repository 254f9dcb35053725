"""What the rest-access walkthrough (an app on a server, a deploy role that may not create users)
showed the playbook must say; each assertion is a point an assistant had to guess."""

from __future__ import annotations

from .conftest import TREE

TEXT = TREE["rest-access/SKILL.md"].path.read_text(encoding="utf-8")


def test_first_checkpoint_asks_only_what_the_plan_and_request_leave_open():
    assert "Ask only what the plan (`snowflake.connection`, `rest.*`) and the user's request leave open" in TEXT
    assert "**STOP**: Ask for what is still open of:" in TEXT


def test_an_administrator_gets_the_caller_and_the_policy_in_one_go():
    assert "so they run the caller and the network policy in one go" in TEXT
    assert "`access check` reads back what they created and records it in the plan" in TEXT


def test_verification_from_the_application_server_without_a_plan():
    assert "the user runs section 6 there" in TEXT
    assert "spcs-llm endpoint test --endpoint <ingress_host> --model <model> --pat-file <file>" in TEXT
    assert "spcs-llm endpoint bench --endpoint <ingress_host> --model <model> --pat-file <file>" in TEXT


def test_who_creates_a_service_users_token_and_that_it_expires():
    assert "a role that owns the caller's user" in TEXT
    assert "the PAT expires (30 days by default)" in TEXT
    assert "the machine it is on (never the token)" in TEXT


def test_the_client_checkpoint_is_skipped_when_the_request_says():
    assert "When the request already says (their own code, on a named machine)" in TEXT


def test_after_the_custom_image_upgrade_wait_for_the_model_and_the_url():
    """Walk gw1: the upgrade restarts the instances and the public URL comes later; the playbook went
    straight to `access check`, leaving section 6 without a URL."""
    upgrade = TEXT.index("spcs-llm render-custom --part upgrade --execute --yes")
    block = TEXT[upgrade:TEXT.index("```", upgrade)]
    assert "spcs-llm status --wait" in block and "spcs-llm endpoint url --wait" in block


def test_a_tool_in_docker_on_linux_reaches_the_gateway():
    """Walk gw1: self-hosted Dify on a Linux VM has no host.docker.internal by default."""
    assert 'extra_hosts: ["host.docker.internal:host-gateway"]' in TEXT
    assert "keep port 8088 closed to the internet" in TEXT
