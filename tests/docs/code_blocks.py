"""The python code blocks of README.md and docs/*.md, with the marker each may carry.

A block runs as written unless the line right before its opening fence is a marker:

- ``<!-- doc-block: continues -->`` runs it after the block before it, in its namespace;
- ``<!-- doc-block: script -->`` runs it as a file of its own in a fresh interpreter (it
  starts processes that import it, ``if __name__ == "__main__"``);
- ``<!-- doc-block: skip: <why> -->`` does not run it standalone (it is still compiled).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"<!-- doc-block: (continues|script|skip: [^>]+?) -->")
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    file: str  # relative to the repository
    number: int  # 1-based among the file's python blocks
    line: int  # the line of the opening fence (1-based)
    code: str
    marker: str  # "", "continues", "script" or "skip: <why>"

    @property
    def name(self) -> str:
        return f"{self.file}#{self.number}"


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks() -> list[Block]:
    out: list[Block] = []
    for path in documents():
        text = path.read_text(encoding="utf-8")
        for i, m in enumerate(FENCE.finditer(text), 1):
            before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            found = MARKER.fullmatch(before.strip())
            out.append(
                Block(
                    file=str(path.relative_to(ROOT)),
                    number=i,
                    line=text.count("\n", 0, m.start()) + 1,
                    code=m.group(1),
                    marker=found.group(1) if found else "",
                )
            )
    return out
