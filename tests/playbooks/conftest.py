"""Shared helpers for the playbook tests: the real skill tree, and an isolated environment in
which the commands of its bash blocks run (no Snowflake login, no network, a private HOME)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from spcs_llm import PACK_ROOT
from spcs_llm.skills_check.document import load_tree
from spcs_llm.skills_check.graph import edges, parents, reachable

SKILLS_ROOT = PACK_ROOT / "skills" / "spcs-llm"
REPLAY_DIR = PACK_ROOT / "tests" / "fixtures" / "recorded" / "aws_ready"  # an account ready to deploy

TREE = load_tree(SKILLS_ROOT)
GRAPH = edges(SKILLS_ROOT, TREE)
ORDER = reachable(GRAPH)
PARENT = parents(GRAPH)


def isolated_env(home: Path) -> dict[str, str]:
    """The environment the playbook commands run in: this venv's spcs-llm first on PATH, recorded
    Snowflake responses for --dry-run steps, no Snowflake or Hugging Face credentials, and a hub
    endpoint that refuses connections (a command that needs the network fails the test)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SNOWFLAKE_", "SPCS_LLM_", "HF_", "HUGGING"))}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
               SPCS_LLM_REPLAY_DIR=str(REPLAY_DIR), HF_ENDPOINT="http://127.0.0.1:9", COLUMNS="120")
    return env


@pytest.fixture(scope="session")
def playbook_states(tmp_path_factory):
    """key -> directory as the playbook's bash blocks left it. Each playbook starts from the state
    of the playbook that first loads it (breadth-first from the router), as in a conversation:
    select-model writes deployment.yaml, choose-hardware works on it, and so on."""
    from spcs_llm.skills_check.commands import logical_commands, run_block

    states: dict[str, tuple[Path, list[str]]] = {}

    def state(key: str) -> tuple[Path, list[str]]:
        if key in states:
            return states[key]
        base = tmp_path_factory.mktemp(key.replace("/", "_").replace(".", "_"))
        work, home = base / "work", base / "home"
        parent = PARENT.get(key)
        if parent:
            parent_dir, parent_failures = state(parent)
            if parent_failures:
                states[key] = (work, [f"its parent {parent} failed first"])
                return states[key]
            shutil.copytree(parent_dir, work)
        else:
            work.mkdir()
        home.mkdir()
        failures = []
        pb = TREE[key]
        for block in pb.blocks:
            if block.lang not in ("bash", "sh", "shell"):
                continue
            commands = logical_commands(block.text, block.line + 1)
            result = run_block(commands, work, isolated_env(home))
            if not result.ok:
                where = f"{pb.path}:{result.failed.line}" if result.failed else f"{pb.path}:{block.line}"
                expected = result.failed.expected_exit if result.failed else 0
                failures.append(f"{where}: `{result.failed.text if result.failed else block.text.strip()}` "
                                f"exited {result.actual_exit}, expected {expected}\n{result.output[-2000:]}")
                break  # later blocks depend on this one
        states[key] = (work, failures)
        return states[key]

    return state
