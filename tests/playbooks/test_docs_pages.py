"""The docs pages generated from skills/, the CLI and the catalogs (docs/pagegen.py): no playbook
is copied by hand, Load instructions become links, and every step and catalog entry appears."""

from __future__ import annotations

import sys

import pytest

from spcs_llm import PACK_ROOT, catalog
from spcs_llm.cli import STEPS

from .conftest import TREE


@pytest.fixture(scope="module")
def pagegen():
    sys.path.insert(0, str(PACK_ROOT / "docs"))
    try:
        import pagegen
    finally:
        sys.path.remove(str(PACK_ROOT / "docs"))
    return pagegen


def test_every_playbook_is_a_generated_page(pagegen):
    files = pagegen.playbook_files()
    for key in TREE:
        page = files[f"playbooks/spcs-llm/{key}"]
        assert not page.startswith("---")  # frontmatter becomes the info box
        assert TREE[key].frontmatter["description"].strip()[:60] in page
        assert f"Source: `skills/spcs-llm/{key}`" in page
    nav = [next(iter(item.values())) for item in pagegen.playbook_nav()]
    assert nav[0] == "playbooks/spcs-llm/SKILL.md" and len(nav) == len(TREE)
    assert not (PACK_ROOT / "docs" / "playbooks").exists()  # nothing hand-kept


def test_load_instructions_become_links_outside_code_blocks(pagegen):
    body = "Load `a/SKILL.md` now.\n```text\nLoad `b/SKILL.md`\n```\n"
    out = pagegen._link_loads(body)
    assert "Load [`a/SKILL.md`](a/SKILL.md) now." in out
    assert "Load `b/SKILL.md`" in out and "(b/SKILL.md)" not in out


def test_cli_page_documents_every_step(pagegen):
    page = pagegen.cli_page()
    for name in STEPS:
        assert f"\n## {name}\n" in page and f"usage: spcs-llm {name}" in page


def test_catalog_pages_list_every_entry(pagegen):
    pages = {uri: build() for _, uri, build in pagegen.CATALOG_PAGES}
    families = pages["reference/instance-families.md"]
    assert all(f"| {f.name} | {f.cloud} |" in families for f in catalog.instance_families())
    assert all(f"| {name} |" in pages["reference/gpus.md"] for name in catalog.gpus())
    assert all(f"| {model_id} |" in pages["reference/models.md"] for model_id in catalog.models())
