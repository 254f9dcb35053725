"""Checks that keep the playbooks in skills/ honest (used by tests/playbooks and the docs build).

- document: parse one SKILL.md (frontmatter, sections, code blocks, Load instructions, STOP lines);
- rules: per-playbook rules (frontmatter keys and limits, the one STOP form, question steps end
  their turn, no two costly actions without a checkpoint, relative links exist);
- graph: the Load graph of the tree (targets exist, everything reachable, every path ends);
- commands: the commands in code blocks, their expected exit codes, and running bash blocks.

The conventions themselves are written down in skills/spcs-llm/SKILL.md ("Conventions").
"""

from __future__ import annotations

from .document import Playbook, load_tree
from .graph import check_graph
from .rules import check_playbook, check_tree

__all__ = ["Playbook", "load_tree", "check_graph", "check_playbook", "check_tree"]
