"""One exception tree: every error sharelake defines is a SharelakeError, drawn in errors.py."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import sharelake
from sharelake import errors

_SKIP = {"sharelake.bench.mpyc_program", "sharelake.harness.party_main"}  # scripts


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(sharelake.__path__, "sharelake."):
        if info.name in _SKIP:
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[name] = obj
    return found


def _drawn_tree() -> list[tuple[int, str]]:
    """(depth, class name) for every line of the tree in errors.py's docstring."""
    doc = errors.__doc__ or ""
    block = doc.split("::", 1)[1].split("\n\n", 2)[1]
    rows = []
    for line in block.splitlines():
        m = re.match(r"^    (?P<indent>(?:[│ ]   )*)(?:[├└]── )?(?P<name>[A-Z]\w+)", line)
        assert m is not None, f"unreadable line in the drawn tree: {line!r}"
        rows.append((len(m.group("indent")) // 4 + (0 if line[4] not in "├└│ " else 1), m["name"]))
    return rows


def test_every_exception_class_of_sharelake_is_a_sharelake_error() -> None:
    classes = _exception_classes()
    outside = [n for n, c in classes.items() if not issubclass(c, errors.SharelakeError)]
    assert outside == []


def test_the_drawn_tree_names_every_exception_under_its_real_parent() -> None:
    classes = _exception_classes()
    rows = _drawn_tree()
    assert rows[0] == (0, "SharelakeError")
    parents: list[str] = []
    for depth, name in rows:
        assert name in classes, f"{name} is drawn but sharelake defines no such exception"
        del parents[depth:]
        if parents:
            assert issubclass(classes[name], classes[parents[-1]]), f"{name} under {parents[-1]}"
        parents.append(name)
    assert {n for _, n in rows} == set(classes), "every exception class is drawn in errors.py"


def test_the_package_face_exports_the_root_and_categories_of_the_tree() -> None:
    for name in ("SharelakeError", "ProtocolError", "IntegrityError", "PeerError"):
        assert getattr(sharelake, name) is getattr(errors, name)
    assert "AuthenticationError" in sharelake.__all__
    assert "InputValidationError" in sharelake.__all__
