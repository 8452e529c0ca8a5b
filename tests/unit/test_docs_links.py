"""The README and docs/ link to each other by file and header anchor: every relative link names a file
that exists and, with `#anchor`, a header of that file (anchors made as GitHub makes them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchor(header: str) -> str:
    """GitHub's anchor of a header: lower case, punctuation but `-` and `_` dropped, spaces as `-`."""
    return re.sub(r"[^\w\- ]", "", header.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    out, fence = set(), False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and re.match(r"#{1,6} ", line):
            out.add(anchor(line.split(" ", 1)[1]))
    return out


def test_anchor_is_githubs():
    assert anchor("`-r NAME [key=val ...] [-- extra args]`: run an experiment") == \
        "-r-name-keyval-----extra-args-run-an-experiment"
    assert anchor("Stuck in RUNNABLE: the doctor") == "stuck-in-runnable-the-doctor"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            broken.append(target)
    assert broken == []


def test_every_docs_page_is_in_the_readmes_guides():
    readme = (ROOT / "README.md").read_text()
    guides = readme[readme.index("## Guides"):readme.index("\n## ", readme.index("## Guides") + 5)]
    assert sorted(p.name for p in (ROOT / "docs").glob("*.md")) == sorted(re.findall(r"\(docs/([\w-]+\.md)\)", guides))
