"""Every python block of README.md and docs/*.md is run, or marked with why not.

The blocks run against a real local cluster in tests/docs/test_code_blocks_run.py (slow:
``make test-slow``); the README's quick start also runs in tests/docs/test_readme.py.
Here, in ``make test``: every block compiles, every marker is one of the known ones, and
the blocks that do not run standalone are exactly the ones listed below (a new block
must run, or be marked and listed here).
"""

from __future__ import annotations

from .code_blocks import blocks

#: the blocks that cannot run standalone, with why (the marker's text)
NOT_RUN = {
    "README.md#5": "purposes",
    "docs/estimate.md#1": "placeholder",
    "docs/tutorial.md#1": "portal",
}


def test_every_python_block_of_the_docs_compiles() -> None:
    found = blocks()
    assert len(found) >= 7
    for b in found:
        compile(b.code, f"{b.file}:{b.line}", "exec")


def test_only_the_listed_blocks_are_marked_as_not_run_and_each_says_why() -> None:
    found = blocks()
    skipped = {b.name: b.marker for b in found if b.marker.startswith("skip")}
    assert sorted(skipped) == sorted(NOT_RUN), skipped
    for name, marker in skipped.items():
        assert NOT_RUN[name] in marker, (name, marker)
    continued = [b for b in found if b.marker == "continues"]
    for b in continued:  # a continuation follows a block of the same file that runs
        assert b.number > 1, b.name
    ran = len(found) - len(skipped)
    assert ran >= 4, f"only {ran} of {len(found)} blocks run"
