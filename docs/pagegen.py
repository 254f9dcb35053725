"""Generate the docs pages that come from the pack itself (used by docs/hooks.py).

Everything is imported at module load: mkdocs restores sys.path once the hook module is loaded.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

from spcs_llm import PACK_ROOT, catalog
from spcs_llm.cli import STEPS, _top_help, build_parser
from spcs_llm.skills_check.document import load_tree, split_frontmatter
from spcs_llm.skills_check.graph import edges, reachable

SKILLS = PACK_ROOT / "skills" / "spcs-llm"
PLAYBOOK_PREFIX = "playbooks/spcs-llm"
_LOAD = re.compile(r"\bLoad\s+`([^`]+\.md)`")


# --- playbooks ------------------------------------------------------------------------------

def _playbook_page(path: Path) -> str:
    import yaml

    text = path.read_text(encoding="utf-8")
    front, n_lines = split_frontmatter(text)
    body = "\n".join(text.splitlines()[n_lines:]).lstrip("\n")
    meta = yaml.safe_load(front) if front else {}
    source = path.relative_to(PACK_ROOT).as_posix()
    head = [f'!!! info "Playbook `{meta.get("name", path.parent.name)}`"',
            f"    {meta.get('description', '').strip()}",
            "",
            f"    Source: `{source}`. This page is generated from that file; an assistant reads the file "
            "itself.", ""]
    title, rest = _split_title(_link_loads(body))
    return "\n".join([title, "", *head, rest])


def _link_loads(body: str) -> str:
    """Turn each prose "Load `x.md`" into a link to the mirrored page; code blocks stay as written."""
    out, in_code = [], False
    for line in body.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        out.append(line if in_code else _LOAD.sub(lambda m: f"Load [`{m.group(1)}`]({m.group(1)})", line))
    return "\n".join(out)


def _split_title(body: str) -> tuple[str, str]:
    lines = body.splitlines()
    if lines and lines[0].startswith("# "):
        return lines[0], "\n".join(lines[1:])
    return "# Playbook", body


def playbook_files() -> dict[str, str | bytes]:
    """src_uri -> content for every file of the skill tree (pages for .md, bytes for the rest)."""
    out: dict[str, str | bytes] = {}
    for path in sorted(SKILLS.rglob("*")):
        rel = path.relative_to(SKILLS)
        if path.is_dir() or any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            continue
        uri = f"{PLAYBOOK_PREFIX}/{rel.as_posix()}"
        out[uri] = _playbook_page(path) if path.name == "SKILL.md" else (
            path.read_text(encoding="utf-8") if path.suffix == ".md" else path.read_bytes())
    return out


def playbook_nav() -> list[dict]:
    """The router first, then sub-playbooks in the order the router reaches them."""
    tree = load_tree(SKILLS)
    order = reachable(edges(SKILLS, tree))
    order += [key for key in sorted(tree) if key not in order]
    nav = []
    for key in order:
        title = next((line[2:].strip() for line in tree[key].lines if line.startswith("# ")), key)
        nav.append({title: f"{PLAYBOOK_PREFIX}/{key}"})
    return nav


# --- CLI reference --------------------------------------------------------------------------

def cli_page() -> str:
    lines = ["# Steps (CLI reference)", "",
             "Generated from `spcs_llm.cli.STEPS` and each step's `--help`. Every step also runs as "
             "`python scripts/<step_with_underscores>.py` from a checkout.", "",
             "```text", _top_help().rstrip(), "```", ""]
    lines += ["| step | what it does |", "|---|---|"]
    lines += [f"| [`{name}`](#{name}) | {summary} |" for name, (_, summary) in STEPS.items()]
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal width; keep the page stable
    try:
        lines += _step_sections()
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join(lines) + "\n"


def _step_sections() -> list[str]:
    lines: list[str] = []
    for name, (module_name, _) in STEPS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            from mkdocs.exceptions import PluginError

            raise PluginError(f"cli.STEPS lists step {name!r}, but its module {module_name} cannot be "
                              f"imported: {err}") from err
        help_text = build_parser(name, module).format_help().rstrip()
        lines += ["", f"## {name}", "", "```text", help_text, "```"]
    return lines


# --- catalogs -------------------------------------------------------------------------------

def _cell(value) -> str:
    if value is None or value == "" or value == ():
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    out = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_cell(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join(out)


def _sources(title: str, entries: list[tuple[str, tuple | list, str]]) -> str:
    lines = [f"## {title}", ""]
    for name, sources, notes in entries:
        lines.append(f"**{name}**" + (f": {notes.strip()}" if notes else ""))
        lines += [f"- {_cell(s)}" for s in sources]
        lines.append("")
    return "\n".join(lines)


def _families_page() -> str:
    families = catalog.instance_families()
    rows = [{**f.__dict__, "gpu": f"{f.gpu_count}x {f.gpu}" if f.is_gpu else "-",
             "node_limit": f.node_limit if f.node_limit is not None else "on request",
             "regions": "only " + ", ".join(f.regions_only) if f.regions_only else (
                 "not " + ", ".join(f.regions_excluded) if f.regions_excluded else "all")} for f in families]
    columns = [("name", "family"), ("cloud", "cloud"), ("gpu", "GPUs"), ("gpu_memory_gib", "GiB/GPU"),
               ("vcpu", "vCPU"), ("memory_gib", "memory GiB"), ("credits_per_hour", "credits/h"),
               ("node_limit", "max nodes"), ("generation", "generation"), ("china", "China"),
               ("regions", "regions")]
    gpu_rows = [r for r in rows if r["gpu"] != "-"]
    cpu_rows = [r for r in rows if r["gpu"] == "-"]
    parts = ["# Instance families", "",
             "Generated from `scripts/spcs_llm/catalog/instance_families.yaml`: the compute pool instance "
             "families `spcs-llm plan` ranks. vCPU and memory are what containers can use. Check the live list "
             "in your account with `spcs-llm pools` (it reads SHOW COMPUTE POOL INSTANCE FAMILIES).", "",
             "## GPU families", "", _table(gpu_rows, columns), ""]
    if cpu_rows:
        parts += ["## CPU families", "", _table(cpu_rows, columns), ""]
    parts.append(_sources("Sources and notes", [(f"{f.cloud} {f.name}", f.sources, f.notes) for f in families]))
    return "\n".join(parts)


def _gpus_page() -> str:
    gpus = catalog.gpus().values()
    rows = [{**g.__dict__, "quantization": ", ".join(f"{k} ({v})" for k, v in g.quantization.items())}
            for g in gpus]
    columns = [("name", "GPU"), ("memory_gb", "GB"), ("torch_total_gib", "torch total GiB"),
               ("bandwidth_gb_s", "GB/s"), ("dense_fp16_tflops", "fp16 TFLOPS"),
               ("dense_bf16_tflops", "bf16 TFLOPS"), ("compute_capability", "CC"), ("dtypes", "dtypes"),
               ("quantization", "quantization (how vLLM runs it)")]
    return "\n".join(["# GPUs", "",
                      "Generated from `scripts/spcs_llm/catalog/gpus.yaml`: GPUs as vLLM sees them. The sizing "
                      "applies `--gpu-memory-utilization` to the torch-visible total.", "",
                      _table(rows, columns), "",
                      _sources("Sources and notes", [(g.name, g.sources, g.notes) for g in gpus])])


def _models_page() -> str:
    entries = list(catalog.models().values())
    rows = [{**e, "context": _context(e)} for e in entries]
    columns = [("id", "model"), ("family", "family"), ("tasks", "tasks"), ("params_b", "params (B)"),
               ("active_params_b", "active (B)"), ("licence", "licence"), ("gated", "gated"),
               ("languages", "languages"), ("context", "context"),
               ("checkpoint_quantization", "checkpoint quantization")]
    return "\n".join(["# Models", "",
                      "Generated from `scripts/spcs_llm/catalog/models.yaml`. List and filter it with "
                      "`spcs-llm models`; any other Hugging Face model works too (`spcs-llm plan --model <id>` "
                      "reads its config.json).", "", _table(rows, columns), "",
                      _sources("Sources and notes", [(e["id"], e.get("sources", []), e.get("notes", ""))
                                                     for e in entries])])


def _context(entry: dict):
    config = entry.get("config") or {}
    text = config.get("text_config", config)
    return text.get("max_position_embeddings") or text.get("seq_length")


# (nav title, src_uri, page builder)
CATALOG_PAGES = [("Instance families", "reference/instance-families.md", _families_page),
                 ("GPUs", "reference/gpus.md", _gpus_page),
                 ("Models", "reference/models.md", _models_page)]
