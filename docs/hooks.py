"""mkdocs hooks: the pages that are generated, never hand-kept.

- playbooks/: every file of skills/spcs-llm/, with the frontmatter shown as a header and each
  "Load `x`" turned into a link (the tree is mirrored, so relative links keep working);
- reference/: the CLI (from cli.STEPS and each step's argparse help) and the catalogs
  (instance families, GPUs, models);
- the nav: built here so pages other parts of the pack add (docs/*.md) appear when they exist.

`mkdocs build --strict` alone runs all of this (mkdocs.yml: `hooks: [docs/hooks.py]`).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# pagegen sits beside this file; the package is installed, or found in the checkout's scripts/
# (appended, never prepended: scripts/select.py would shadow the stdlib select module).
sys.path[:0] = [str(HERE)]
sys.path.append(str(HERE.parent / "scripts"))

from pagegen import CATALOG_PAGES, cli_page, playbook_files, playbook_nav  # noqa: E402

# hand-written pages, in nav order, when present (each owned by the part of the pack it describes)
GUIDES = [
    ("Plan file", "plan-file.md"),
    ("Account and compute pools", "account.md"),
    ("Deploy with the Model Registry", "registry.md"),
    ("Deploy a custom vLLM image", "custom-image.md"),
    ("Service-function proxy", "proxy.md"),
    ("Operate: suspend, scale, cost, teardown", "operate.md"),
    ("Debug a service", "debug.md"),
    ("REST access and OpenAI-compatible clients", "rest.md"),
    ("CLI JSON output", "cli.md"),
]


def on_config(config, **_kwargs):
    docs = Path(config["docs_dir"])
    known = {page for _, page in GUIDES} | {"index.md"}
    guides = [{title: page} for title, page in GUIDES if (docs / page).exists()]
    guides += [{_title(p): p.name} for p in sorted(docs.glob("*.md")) if p.name not in known]
    nav = [{"Getting started": "index.md"}, {"Playbooks": playbook_nav()}]
    if guides:
        nav.append({"Guides": guides})
    nav.append({"Reference": [{"Steps (CLI)": "reference/cli-steps.md"},
                              *[{title: path} for title, path, _ in CATALOG_PAGES]]})
    config["nav"] = nav
    return config


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem.replace("-", " ").capitalize()


def on_files(files, config, **_kwargs):
    from mkdocs.structure.files import File, InclusionLevel

    generated = dict(playbook_files())
    generated["reference/cli-steps.md"] = cli_page()
    generated.update({path: build() for _, path, build in CATALOG_PAGES})
    for src_uri, content in generated.items():
        existing = files.get_file_from_path(src_uri)
        if existing is not None:
            files.remove(existing)
        # a playbook's reference files are reached through its links, not the nav
        linked_only = src_uri.startswith("playbooks/") and not src_uri.endswith("/SKILL.md")
        inclusion = InclusionLevel.NOT_IN_NAV if linked_only else InclusionLevel.UNDEFINED
        files.append(File.generated(config, src_uri, content=content, inclusion=inclusion))
    return files
