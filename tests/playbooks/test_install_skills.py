"""install-skills: the right directory per assistant and scope, idempotent, dry-run changes nothing,
uninstall removes only what the manifest lists, and foreign folders are never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spcs_llm.cli import main
from spcs_llm.steps import install_skills as step


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return home


def run_json(capsys, *argv) -> tuple[int, dict]:
    code = main(["install-skills", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def tree_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("agent", "scope", "expected"), [
    ("claude", "project", "project/.claude/skills"),
    ("cortex", "project", "project/.cortex/skills"),
    ("codex", "project", "project/.agents/skills"),
    ("cursor", "project", "project/.cursor/skills"),
    ("claude", "user", "home/.claude/skills"),
    ("cortex", "user", "home/.snowflake/cortex/skills"),
    ("codex", "user", "home/.agents/skills"),
    ("cursor", "user", "home/.cursor/skills"),
])
def test_installs_where_each_assistant_looks(home, capsys, agent, scope, expected):
    code, data = run_json(capsys, "--agent", agent, "--scope", scope)
    assert code == 0
    dest = home.parent / expected / "spcs-llm"
    assert Path(data["destination"]) == dest.resolve()
    assert (dest / "SKILL.md").read_bytes() == (step.SOURCE_DIR / "SKILL.md").read_bytes()
    # every file of the tree is there, plus the manifest, and nothing else
    assert tree_files(dest) == set(step.source_files()) | {step.MANIFEST}


def test_installed_tree_passes_the_official_validator(home, capsys):
    from skills_ref.validator import validate

    run_json(capsys, "--agent", "claude", "--scope", "project")
    dest = home.parent / "project/.claude/skills/spcs-llm"
    folders = [p.parent for p in dest.rglob("SKILL.md")]
    assert len(folders) >= 3
    for folder in folders:
        assert validate(folder) == [], folder


def test_manifest_records_pack_and_command(home, capsys):
    _, data = run_json(capsys, "--agent", "codex")
    manifest = json.loads(Path(data["manifest"]).read_text())
    assert manifest["installed_by"] == "spcs-llm install-skills"
    assert manifest["pack_root"] == str(step.PACK_ROOT)
    assert "SKILL.md" in manifest["files"]
    assert manifest["script_pattern"].endswith("/scripts/<step_with_underscores>.py")


def test_second_install_is_a_no_op(home, capsys):
    run_json(capsys, "--agent", "claude")
    code, data = run_json(capsys, "--agent", "claude")
    assert code == 0
    assert data["counts"]["create"] == data["counts"]["update"] == data["counts"]["remove"] == 0
    assert data["counts"]["unchanged"] == len(step.source_files())


def test_reinstall_repairs_edits_and_removes_stale_files(home, capsys):
    _, data = run_json(capsys, "--agent", "claude")
    dest = Path(data["destination"])
    (dest / "SKILL.md").write_text("edited by hand")
    manifest_path = dest / step.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["files"].append("old-playbook/SKILL.md")
    manifest_path.write_text(json.dumps(manifest))
    (dest / "old-playbook").mkdir()
    (dest / "old-playbook/SKILL.md").write_text("from an older pack version")
    _, data = run_json(capsys, "--agent", "claude")
    assert data["counts"]["update"] == 1 and data["counts"]["remove"] == 1
    assert (dest / "SKILL.md").read_bytes() == (step.SOURCE_DIR / "SKILL.md").read_bytes()
    assert not (dest / "old-playbook").exists()


def test_dry_run_changes_nothing_and_lists_actions(home, capsys):
    code = main(["install-skills", "--agent", "cursor", "--scope", "project", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert not (home.parent / "project/.cursor").exists()
    assert "create" in out and "would:" in out
    assert str(home.parent / "project/.cursor/skills/spcs-llm/SKILL.md") in out


def test_uninstall_removes_only_installed_files(home, capsys):
    _, data = run_json(capsys, "--agent", "claude", "--scope", "user")
    dest = Path(data["destination"])
    mine = dest / "my-notes.md"
    mine.write_text("the user's own file")
    sibling = dest.parent / "other-skill" / "SKILL.md"
    sibling.parent.mkdir()
    sibling.write_text("another skill")
    code, data = run_json(capsys, "--agent", "claude", "--scope", "user", "--uninstall")
    assert code == 0
    assert mine.exists() and sibling.exists()
    assert tree_files(dest) == {"my-notes.md"}
    # uninstalling again is a no-op (nothing is listed any more), not an error
    code, data = run_json(capsys, "--agent", "claude", "--scope", "user", "--uninstall")
    assert code == 0 and data["actions"] == []
    assert mine.exists() and sibling.exists()


def test_uninstall_dry_run_keeps_files(home, capsys):
    _, data = run_json(capsys, "--agent", "codex")
    code, preview = run_json(capsys, "--agent", "codex", "--uninstall", "--dry-run")
    assert code == 0 and preview["counts"]["remove"] == len(step.source_files()) + 1
    assert (Path(data["destination"]) / "SKILL.md").exists()


def test_refuses_to_overwrite_a_folder_it_did_not_install(home, capsys):
    foreign = home.parent / "project/.claude/skills/spcs-llm"
    foreign.mkdir(parents=True)
    (foreign / "SKILL.md").write_text("someone else's skill")
    code = main(["install-skills", "--agent", "claude", "--scope", "project"])
    err = capsys.readouterr().err
    assert code == 2
    assert "was not installed by spcs-llm" in err and str(foreign) in err
    assert (foreign / "SKILL.md").read_text() == "someone else's skill"
    code = main(["install-skills", "--agent", "claude", "--scope", "project", "--uninstall"])
    assert code == 2 and (foreign / "SKILL.md").exists()


def test_manifest_cannot_point_outside_the_install(home, capsys, tmp_path):
    _, data = run_json(capsys, "--agent", "claude")
    dest = Path(data["destination"])
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    manifest = json.loads((dest / step.MANIFEST).read_text())
    manifest["files"].append("../../../../victim.txt")
    (dest / step.MANIFEST).write_text(json.dumps(manifest))
    run_json(capsys, "--agent", "claude", "--uninstall")
    assert victim.read_text() == "keep me"


def test_target_overrides_the_agent_directory(home, capsys, tmp_path):
    target = tmp_path / "elsewhere"
    code, data = run_json(capsys, "--agent", "claude", "--target", str(target))
    assert code == 0 and (target / "spcs-llm/SKILL.md").exists()
    assert data["scope"] == "target"


def test_reports_the_fix_when_spcs_llm_is_not_on_path(home, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    code = main(["install-skills", "--agent", "claude"])
    out = capsys.readouterr().out
    assert code == 0
    assert "spcs-llm is not on PATH" in out
    fix = step._fix_hint(step.step_command())
    assert fix and fix in out


def test_thin_script_runs_the_step(home):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(step.PACK_ROOT / "scripts/install_skills.py"), "--agent", "cortex",
                           "--scope", "project", "--dry-run", "--json"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["destination"].endswith(".cortex/skills/spcs-llm")


def test_default_scope_is_user_so_every_project_sees_it(home, capsys):
    code, data = run_json(capsys, "--agent", "claude", "--dry-run")
    assert code == 0 and data["scope"] == "user"
    assert data["destination"] == str(home / ".claude/skills/spcs-llm")


def test_project_scope_from_the_pack_checkout_is_refused(home, capsys, monkeypatch):
    """A newcomer following the README runs it inside the checkout, where no assistant looks."""
    monkeypatch.chdir(step.PACK_ROOT)
    code = main(["install-skills", "--agent", "claude", "--scope", "project"])
    err = capsys.readouterr().err
    assert code == 2
    assert "checkout itself" in err and "--scope user" in err
    assert not (step.PACK_ROOT / ".claude").exists()
