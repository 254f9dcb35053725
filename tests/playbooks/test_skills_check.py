"""The playbook checks catch what they claim to catch: each rule fails on a small broken tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from spcs_llm.skills_check.commands import logical_commands, run_block, spcs_llm_calls
from spcs_llm.skills_check.document import load_tree, parse
from spcs_llm.skills_check.graph import check_graph, parents
from spcs_llm.skills_check.rules import STOP_RE, check_playbook, check_tree

from .conftest import isolated_env

STOP = "**STOP**: Ask which family to use. End your turn and wait for the user's answer."

ROUTER = """\
---
name: spcs-llm
description: "Test router. Use when: testing. Triggers: test."
---

# Router

| want | Load |
|---|---|
| a | Load `first/SKILL.md` |
"""

FIRST = """\
---
name: first
description: "First sub-playbook."
metadata:
  parent_skill: spcs-llm
---

# First

## Ask

```bash
spcs-llm models --format prompt
```

{stop}

## Next

**Done**: finished.
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "spcs-llm" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root / "spcs-llm"


def problems(root: Path) -> list[str]:
    return check_tree(root)


@pytest.fixture
def good(tmp_path):
    return write(tmp_path, {"SKILL.md": ROUTER, "first/SKILL.md": FIRST.format(stop=STOP)})


def test_a_clean_tree_has_no_problems(good):
    assert problems(good) == []


def test_stop_form_is_exact():
    assert STOP_RE.match(STOP)
    for loose in ["**⚠️ STOP**: Wait for user response.",
                  "**STOP**: Ask which family. Wait for the user.",
                  "**STOP**: Ask which family?. End your turn and wait for the user's answer.",
                  "STOP: Ask which family. End your turn and wait for the user's answer."]:
        assert not STOP_RE.match(loose), loose


def test_loose_checkpoint_wording_is_reported(good):
    path = good / "first/SKILL.md"
    path.write_text(path.read_text().replace(STOP, "**⚠️ STOP**: Wait for user response."))
    found = problems(good)
    assert any("must be exactly one line" in p for p in found)
    assert any("asks the user something but has no STOP" in p for p in found)


def test_question_without_stop_is_reported(good):
    path = good / "first/SKILL.md"
    path.write_text(path.read_text().replace(STOP, "Then carry on."))
    assert any("asks the user something but has no STOP line" in p for p in problems(good))


def test_ask_line_needs_a_stop(tmp_path):
    body = FIRST.format(stop=STOP) + "\n## Extra\n\nAsk the user for the region.\n"
    root = write(tmp_path, {"SKILL.md": ROUTER, "first/SKILL.md": body})
    assert any("section 'Extra' asks" in p for p in problems(root))


def test_missing_load_target_and_unreachable_playbook(tmp_path):
    router = ROUTER.replace("first/SKILL.md", "missing/SKILL.md")
    root = write(tmp_path, {"SKILL.md": router, "first/SKILL.md": FIRST.format(stop=STOP)})
    found = problems(root)
    assert any("'missing/SKILL.md' does not exist" in p for p in found)
    assert any("not reachable from the router" in p for p in found)
    assert any("routing table does not load first/SKILL.md" in p for p in found)


def test_dead_end_is_reported(good):
    path = good / "first/SKILL.md"
    path.write_text(path.read_text().replace("**Done**: finished.", "That is all."))
    found = problems(good)
    assert any("must end the path" in p for p in found)
    assert any("dead end" in p for p in found)


def test_cycle_without_an_end_is_a_dead_end(tmp_path):
    second = FIRST.replace("name: first", "name: second").format(stop=STOP).replace(
        "**Done**: finished.", "Load `../first/SKILL.md`.")
    first = FIRST.format(stop=STOP).replace("**Done**: finished.", "Load `../second/SKILL.md`.")
    router = ROUTER + "| b | Load `second/SKILL.md` |\n"
    root = write(tmp_path, {"SKILL.md": router, "first/SKILL.md": first, "second/SKILL.md": second})
    assert sum("dead end" in p for p in problems(root)) == 3


def test_frontmatter_rules(tmp_path):
    bad = FIRST.format(stop=STOP).replace("metadata:\n  parent_skill: spcs-llm\n",
                                          "parent_skill: spcs-llm\n")
    bad = bad.replace('description: "First sub-playbook."', 'description: "Use <this> ' + "x" * 1030 + '"')
    root = write(tmp_path, {"SKILL.md": ROUTER, "first/SKILL.md": bad})
    found = problems(root)
    assert any("key 'parent_skill' is not allowed" in p for p in found)
    assert any("needs metadata: parent_skill" in p for p in found)
    assert any("the limit is under 1024" in p for p in found)
    assert any("must not contain '<' or '>'" in p for p in found)
    assert any("Unexpected fields in frontmatter" in p for p in found)  # the official validator agrees


def test_router_description_needs_triggers(tmp_path):
    router = ROUTER.replace("Use when: testing. Triggers: test.", "A router.")
    root = write(tmp_path, {"SKILL.md": router, "first/SKILL.md": FIRST.format(stop=STOP)})
    assert any("must say 'Use when'" in p for p in problems(root))


def test_name_must_match_folder(tmp_path):
    root = write(tmp_path, {"SKILL.md": ROUTER, "first/SKILL.md": FIRST.format(stop=STOP).replace(
        "name: first", "name: other")})
    assert any("must equal the folder name 'first'" in p for p in problems(root))


def test_length_limit(good):
    path = good / "first/SKILL.md"
    path.write_text(path.read_text() + "\nfiller\n" * 500)
    assert any("keep a playbook under 500 lines" in p for p in problems(good))


def test_costly_commands_need_a_checkpoint_each(tmp_path):
    body = FIRST.format(stop=STOP).replace("## Next", textwrap.dedent("""\
        ## Create

        ```text
        spcs-llm select --family GPU_NV_S --yes
        spcs-llm select --family GPU_NV_M --yes
        ```

        ## Next"""))
    root = write(tmp_path, {"SKILL.md": ROUTER, "first/SKILL.md": body})
    found = [p for p in problems(root) if "costly command without a STOP" in p or "unrecognized" in p]
    # the first --yes follows the STOP of the previous section; the second one has none
    assert sum("costly command without a STOP" in p for p in found) == 1


def test_yes_in_a_bash_block_is_refused(tmp_path):
    block = "```bash\nspcs-llm install-skills --agent claude --yes\n```\n\n## Next"
    body = FIRST.format(stop=STOP).replace("## Next", block)
    root = write(tmp_path, {"SKILL.md": ROUTER, "first/SKILL.md": body})
    assert any("--yes in a bash block" in p for p in problems(root))


def test_a_live_step_in_a_bash_block_is_refused(tmp_path):
    """Bash blocks are promised offline: service-check logs in unless --dry-run; render-custom and
    deploy-registry only render unless --part / --execute; text blocks may hold live commands."""
    block = textwrap.dedent("""\
        ```bash
        spcs-llm service-check --name SVC
        spcs-llm service-check --name SVC --dry-run
        spcs-llm render-custom --format prompt
        spcs-llm deploy-registry --execute
        ```

        ```text
        spcs-llm status --connection prod
        ```

        ## Next""")
    body = FIRST.format(stop=STOP).replace("## Next", block)
    root = write(tmp_path, {"SKILL.md": ROUTER, "first/SKILL.md": body})
    found = [p for p in problems(root) if "connects to Snowflake" in p]
    assert len(found) == 2, found
    assert "service-check --name SVC`" in found[0] and "deploy-registry --execute" in found[1]


def test_commands_must_name_real_steps_and_flags(tmp_path):
    body = FIRST.format(stop=STOP).replace("## Next", textwrap.dedent("""\
        ```text
        spcs-llm deploy-everything --now
        spcs-llm plan --model X --no-such-flag
        spcs-llm select
        ```

        ## Next"""))
    root = write(tmp_path, {"SKILL.md": ROUTER, "first/SKILL.md": body})
    found = problems(root)
    assert any("unknown step 'deploy-everything'" in p for p in found)
    assert any("unrecognized arguments: --no-such-flag" in p for p in found)
    assert any("the following arguments are required: --family" in p for p in found)


def test_relative_links_must_exist(good):
    path = good / "first/SKILL.md"
    path.write_text(path.read_text() + "\nSee [the notes](references/notes.md) and [docs](https://example.com).\n")
    found = problems(good)
    assert sum("does not exist" in p for p in found) == 1 and any("references/notes.md" in p for p in found)


def test_unclosed_code_block(good):
    path = good / "first/SKILL.md"
    path.write_text(path.read_text() + "\n```bash\nspcs-llm --version\n")
    assert any("never closed" in p for p in problems(good))


def test_stop_inside_a_code_block_is_not_a_checkpoint(good):
    path = good / "first/SKILL.md"
    path.write_text(path.read_text().replace(STOP, "```text\n" + STOP + "\n```"))
    found = problems(good)
    assert any("inside a code block" in p for p in found)


# --- commands and the block runner -----------------------------------------------------------

def test_logical_commands_join_continuations_and_read_exit_annotations():
    text = "# a comment\nspcs-llm plan \\\n  --model X\n\nspcs-llm show  # exits 2 when there is no plan\n"
    commands = logical_commands(text, first_line=10)
    assert [(c.line, c.text, c.expected_exit) for c in commands] == [
        (11, "spcs-llm plan --model X", 0),
        (14, "spcs-llm show  # exits 2 when there is no plan", 2),
    ]


def test_redirections_are_the_shells_not_the_steps():
    """`spcs-llm diagnose --json > out.json` passes `--json` only; a <placeholder> stays an argument."""
    assert spcs_llm_calls("spcs-llm diagnose --json > out.json 2>/dev/null") == [["diagnose", "--json"]]
    assert spcs_llm_calls("spcs-llm logs --json >logs.json") == [["logs", "--json"]]
    assert spcs_llm_calls("spcs-llm logs --service <db.schema.service> >> all.log") == [
        ["logs", "--service", "<db.schema.service>"]]


def test_spcs_llm_calls_split_pipelines():
    calls = spcs_llm_calls('X=1 spcs-llm plan --model "a b" --json | jq . && spcs-llm show # note')
    assert calls == [["plan", "--model", "a b", "--json"], ["show"]]


def test_run_block_checks_each_exit_code(tmp_path):
    env = isolated_env(tmp_path)
    ok = logical_commands("MODEL=x\ntest \"$MODEL\" = x\nfalse  # exits 1 always\n")
    assert run_block(ok, tmp_path, env).ok
    bad = logical_commands("true\nfalse\ntrue\n")
    result = run_block(bad, tmp_path, env)
    assert not result.ok and result.failed.text == "false" and result.actual_exit == 1
    wrong = logical_commands("true  # exits 3 when it fails\n")
    result = run_block(wrong, tmp_path, env)
    assert not result.ok and result.actual_exit == 0


def test_blocks_run_in_the_state_the_previous_playbook_left():
    graph = {"SKILL.md": ["a/SKILL.md", "b/SKILL.md"], "a/SKILL.md": ["b/SKILL.md"],
             "b/SKILL.md": ["a/SKILL.md", "c/SKILL.md"], "c/SKILL.md": []}
    assert parents(graph) == {"SKILL.md": None, "a/SKILL.md": "SKILL.md", "b/SKILL.md": "a/SKILL.md",
                              "c/SKILL.md": "b/SKILL.md"}


def test_parse_keeps_code_out_of_prose(good):
    pb = parse(good / "first/SKILL.md")
    assert [b.lang for b in pb.blocks] == ["bash"]
    assert all("spcs-llm models" not in text for _, text in pb.prose())
    assert load_tree(good).keys() == {"SKILL.md", "first/SKILL.md"}
    assert check_playbook(pb) == [] and check_graph(good, load_tree(good)) == []
