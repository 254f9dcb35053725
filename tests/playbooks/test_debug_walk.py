"""What the debug walkthrough (a hand-deployed service PENDING for 40 minutes with a restarting proxy, no
plan, a user who wants it shut down and suspects the pool is shared) showed the debug and manage
playbooks must say; each assertion is a point where an assistant asked again, guessed or found no route."""

from __future__ import annotations

from .conftest import TREE

DEBUG = TREE["debug/SKILL.md"].path.read_text(encoding="utf-8")
MANAGE = TREE["manage/SKILL.md"].path.read_text(encoding="utf-8")


def test_first_checkpoints_skip_what_the_request_already_names():
    assert "When the user's request already names the connection and the service" in DEBUG
    assert "unless the plan or the user's request names it, the service" in DEBUG
    assert "When the conversation\nalready names the service, the connection and the action" in MANAGE


def test_restarting_proxy_while_the_model_waits_is_explained():
    assert "the model\n  container still waits for its node, where its top finding is `provisioning`" in DEBUG
    assert "| `container_failed` |" in DEBUG
    assert "still provisioning after 30 minutes" in DEBUG


def test_money_is_not_guessed():
    assert "do not multiply by a list price" in MANAGE and "RATE_SHEET_DAILY" in MANAGE


def test_a_possibly_shared_pool_can_be_kept_without_billing():
    assert "spcs-llm teardown --service LLM_DB.SERVING.LLM_SVC --suspend-pool --dry-run" in MANAGE
    assert "tell the user\nwhat does (a kept pool until it suspends" in MANAGE


def test_when_status_wait_stops_matches_the_step():
    """status --wait stops on a crash loop or a restart during the wait, not on every `restarting` poll."""
    assert "`status --wait` stops when a container restarts during the wait or is in a crash loop" in DEBUG
