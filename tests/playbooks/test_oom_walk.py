"""What walk oom1 (gpt-oss-120b at TP=1 x 2 on Azure GPU_NV_3M, CUDA OOM at load, fixed by TP=2 x 1 on the same
family) showed the debug and manage playbooks must say: the assistant had to find the same-cost TP change itself,
found by hand that the upgrade left two instances on a one-node pool, diffed the specifications by hand, and read
vLLM's KV cache line wrongly when checking the user's concurrency."""

from __future__ import annotations

from .conftest import TREE

DEBUG = TREE["debug/SKILL.md"].path.read_text(encoding="utf-8")
MANAGE = TREE["manage/SKILL.md"].path.read_text(encoding="utf-8")


def test_cuda_oom_fix_is_the_plans_higher_tp_not_a_replan():
    row = next(line for line in DEBUG.splitlines() if line.startswith("| `cuda_oom` |"))
    assert "`select --family <family> --tp <n>`" in row and "proposes the layout that crashed again" in row


def test_a_new_tp_upgrade_sets_the_instance_count_in_the_same_action():
    assert "also sets the service's MIN/MAX_INSTANCES to the plan's" in DEBUG
    assert "do not scale separately first" in MANAGE and "specification lines that change" in MANAGE


def test_verification_reads_vllms_maximum_concurrency():
    assert 'spcs-llm logs --connection <name> --grep "KV cache size|Maximum concurrency"' in DEBUG
    assert "not the KV tokens divided by\nthe length" in DEBUG
