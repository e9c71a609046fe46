"""The documentation: every English page has a complete Japanese counterpart (the city's staff read Japanese
first), the README leads in at most 200 lines, and its links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
PAIRS = [(ROOT / "README.md", ROOT / "README.ja.md")] + [
    (page, ROOT / "docs" / "ja" / page.name) for page in sorted((ROOT / "docs").glob("*.md"))
]


def headings(path: Path) -> list[tuple[int, str]]:
    """(level, text) of each Markdown heading outside code blocks."""
    found, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"^(#{1,6}) (.+)$", line)):
            found.append((len(m[1]), m[2].strip()))
    return found


@pytest.mark.parametrize(("english", "japanese"), PAIRS, ids=[p[0].name for p in PAIRS])
def test_each_english_heading_has_its_japanese_counterpart(english: Path, japanese: Path) -> None:
    assert japanese.is_file(), f"{japanese.relative_to(ROOT)} is missing: every English page has a Japanese mirror"
    en, ja = headings(english), headings(japanese)
    assert [level for level, _ in en] == [level for level, _ in ja], (en, ja)
    untranslated = [text for _, text in ja if not JAPANESE.search(text) and not re.fullmatch(r"[`\w./ -]+", text)]
    assert not untranslated, untranslated


def test_the_readme_leads_in_at_most_200_lines() -> None:
    for readme in ("README.md", "README.ja.md"):
        assert len((ROOT / readme).read_text(encoding="utf-8").splitlines()) <= 200, readme


def test_links_between_the_pages_resolve() -> None:
    pages = [
        ROOT / "README.md",
        ROOT / "README.ja.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "docs" / "ja").glob("*.md"),
    ]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not target.startswith("http") and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []
