"""Parse a SKILL.md into the parts the checks look at. Line numbers are 1-based file lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROUTER = "spcs-llm"

_FENCE = re.compile(r"^\s{0,3}(```+|~~~+)\s*([\w+-]*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LOAD = re.compile(r"\bLoad\s+`([^`]+)`")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@dataclass
class CodeBlock:
    lang: str  # "bash", "text", "" ...
    line: int  # line of the opening fence
    text: str
    section: str  # title of the enclosing section
    closed: bool = True


@dataclass
class Section:
    title: str
    level: int
    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)  # prose lines (outside code blocks)
    blocks: list[CodeBlock] = field(default_factory=list)


@dataclass
class Playbook:
    path: Path
    frontmatter: dict
    lines: list[str]  # every line of the file
    sections: list[Section]

    @property
    def folder(self) -> str:
        return self.path.parent.name

    @property
    def name(self) -> str:
        return str(self.frontmatter.get("name", ""))

    @property
    def is_router(self) -> bool:
        return self.folder == ROUTER

    @property
    def blocks(self) -> list[CodeBlock]:
        return [b for s in self.sections for b in s.blocks]

    def prose(self) -> list[tuple[int, str]]:
        """Every line outside code blocks and frontmatter, in order."""
        return [item for s in self.sections for item in s.lines]

    def loads(self) -> list[tuple[int, str]]:
        return [(n, m) for n, text in self.prose() for m in _LOAD.findall(text)]

    def links(self) -> list[tuple[int, str]]:
        return [(n, m) for n, text in self.prose() for m in _LINK.findall(_strip_code_spans(text))]

    def events(self) -> list[tuple[int, str, object]]:
        """Prose lines and code blocks interleaved in file order: (line, "prose"|"block", item)."""
        out: list[tuple[int, str, object]] = []
        for section in self.sections:
            out += [(n, "prose", text) for n, text in section.lines]
            out += [(b.line, "block", b) for b in section.blocks]
        return sorted(out, key=lambda e: e[0])


def _strip_code_spans(text: str) -> str:
    return re.sub(r"`[^`]*`", "", text)


def split_frontmatter(text: str) -> tuple[str, int]:
    """The frontmatter text and the number of lines it occupies (0 when there is none)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return "", 0
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "\n".join(lines[1:index]), index + 1
    return "", 0


def parse(path: Path) -> Playbook:
    import yaml

    text = path.read_text(encoding="utf-8")
    front_text, front_lines = split_frontmatter(text)
    try:
        frontmatter = yaml.safe_load(front_text) if front_text else {}
    except yaml.YAMLError:
        frontmatter = {}
    lines = text.splitlines()
    sections = [Section(title="(top)", level=0, line=front_lines + 1)]
    fence: str | None = None
    block: CodeBlock | None = None
    body: list[str] = []
    for number, line in enumerate(lines[front_lines:], start=front_lines + 1):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            block = CodeBlock(lang=match.group(2).lower(), line=number, text="", section=sections[-1].title)
            body = []
            continue
        if fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                block.text = "\n".join(body) + ("\n" if body else "")
                sections[-1].blocks.append(block)
                fence, block = None, None
            else:
                body.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            sections.append(Section(title=heading.group(2), level=len(heading.group(1)), line=number))
            continue
        sections[-1].lines.append((number, line))
    if block is not None:  # an unclosed fence: keep it so a rule can report it
        block.text = "\n".join(body)
        block.closed = False
        sections[-1].blocks.append(block)
    return Playbook(path=path, frontmatter=frontmatter if isinstance(frontmatter, dict) else {},
                    lines=lines, sections=sections)


def load_tree(root: Path) -> dict[str, Playbook]:
    """Every SKILL.md under root (the router's folder), keyed by path relative to root."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): parse(p) for p in sorted(root.rglob("SKILL.md"))}
