"""``docs/pytorch.md`` stays true: each name it writes as `` `cr.a.b` `` resolves on chainrule
where the page says it carries over or differs, and does not resolve where the page says it
is not there."""

from __future__ import annotations

import re
from pathlib import Path

import chainrule as cr

PAGE = Path(__file__).resolve().parent.parent / "docs" / "pytorch.md"
MISSING_HEADING = "## What is not there"
NAME = re.compile(r"`(cr(?:\.\w+)+)`")


def _resolves(dotted: str) -> bool:
    obj = cr
    for part in dotted.split(".")[1:]:
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def _names() -> tuple[list[str], list[str]]:
    text = PAGE.read_text(encoding="utf-8")
    present, _, missing = text.partition(MISSING_HEADING)
    assert missing, f"docs/pytorch.md has no {MISSING_HEADING!r} section"
    return NAME.findall(present), NAME.findall(missing)


def test_the_page_lists_many_names_of_each_kind():
    present, missing = _names()
    assert len(set(present)) > 150 and len(set(missing)) > 100


def test_every_name_said_to_carry_over_exists():
    present, _ = _names()
    absent = sorted({name for name in present if not _resolves(name)})
    assert not absent, f"docs/pytorch.md says these exist, but they do not: {absent}"


def test_every_name_said_to_be_missing_is_missing():
    _, missing = _names()
    there = sorted({name for name in missing if _resolves(name)})
    assert not there, (
        f"docs/pytorch.md says these are not there, but they are: {there}; move them to "
        "'What carries over'"
    )


def test_the_scripts_the_page_names_have_tests():
    # Each script named under "Scripts that run unchanged" is named in a test's source.
    text = PAGE.read_text(encoding="utf-8")
    scripts = text.partition("## Scripts that run unchanged")[2].partition("## ")[0]
    names = set(re.findall(r"`(\w+\.py)`", scripts)) | set(re.findall(r"`(\w+/main\.py)`", scripts))
    assert len(names) == 16
    tests = Path(__file__).resolve().parent
    sources = "".join(p.read_text(encoding="utf-8") for p in tests.glob("test_*.py"))
    unnamed = sorted(name for name in names if name not in sources)
    assert not unnamed, f"no test names these scripts: {unnamed}"
