"""The Load graph of a skill tree: who hands off to whom, and whether every path ends.

Assistants find only the router (discovery is one folder deep), so a sub-playbook exists for
them only if a chain of "Load `<path>`" instructions leads to it from the router.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from .document import Playbook
from .rules import _DONE

ROUTER_KEY = "SKILL.md"


def edges(root: Path, tree: dict[str, Playbook]) -> dict[str, list[str]]:
    """playbook key -> keys of the playbooks it loads (targets outside the tree are dropped)."""
    root = Path(root).resolve()
    out: dict[str, list[str]] = {}
    for key, pb in tree.items():
        targets = []
        for _, target in pb.loads():
            path = (pb.path.parent / target).resolve()
            if path.is_relative_to(root):
                rel = path.relative_to(root).as_posix()
                if rel in tree and rel not in targets:
                    targets.append(rel)
        out[key] = targets
    return out


def reachable(graph: dict[str, list[str]], start: str = ROUTER_KEY) -> list[str]:
    """Keys reachable from start, in breadth-first order (start first)."""
    seen, order, queue = {start}, [start], deque([start])
    while queue:
        for nxt in graph.get(queue.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
                queue.append(nxt)
    return order


def parents(graph: dict[str, list[str]], start: str = ROUTER_KEY) -> dict[str, str | None]:
    """For each reachable playbook, the one that first leads to it when the hand-offs are followed
    depth-first in reading order: the router's first route, then that playbook's hand-offs, and
    so on. That is the order of a conversation, so it is the state a playbook's commands run in."""
    parent: dict[str, str | None] = {start: None}

    def visit(key: str) -> None:
        for nxt in graph.get(key, []):
            if nxt not in parent:
                parent[nxt] = key
                visit(nxt)

    visit(start)
    return parent


def _ends(pb: Playbook) -> bool:
    return any(_DONE.match(text) for _, text in pb.prose())


def check_graph(root: Path, tree: dict[str, Playbook]) -> list[str]:
    problems = []
    if ROUTER_KEY not in tree:
        return [f"{root}: the router {ROUTER_KEY} is missing"]
    graph = edges(root, tree)
    order = reachable(graph)
    for key in sorted(set(tree) - set(order)):
        problems.append(f"{tree[key].path}: not reachable from the router by Load instructions")
    router_targets = set(graph[ROUTER_KEY])
    for key in sorted(tree):
        if key.count("/") == 1 and key not in router_targets:
            problems.append(f"{tree[ROUTER_KEY].path}: the routing table does not load {key} "
                            f"(add a row: Load `{key}`)")
    # every path ends: from each reachable playbook some chain of hand-offs reaches a **Done**
    finishing = {key for key in tree if key != ROUTER_KEY and _ends(tree[key])}
    changed = True
    while changed:
        changed = False
        for key, targets in graph.items():
            if key not in finishing and any(t in finishing for t in targets):
                finishing.add(key)
                changed = True
    for key in order:
        if key not in finishing:
            problems.append(f"{tree[key].path}: no chain of hand-offs from here reaches **Done** (a dead end)")
    for key in order:
        if key != ROUTER_KEY and not graph[key] and not _ends(tree[key]):
            problems.append(f"{tree[key].path}: neither hands off (Load) nor says **Done**")
    return problems
