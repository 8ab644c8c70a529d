"""Readable ``-h`` tables: words instead of typer's ``<bool>``, ``<str>``, ``<path>`` types.

typer's rich help shows every parameter's Python type in angle brackets (``--replace
<bool>``, ``--table <str>``). :class:`ReadableGroup`, the class of the ``sharelake``
command, gives every option and argument of the whole command tree a metavar in the
words click's plain help uses (``TEXT``, ``PATH``, ``INTEGER``, ``NUMBER``; nothing for a
flag; the choices of a choice). Only the help changes: values parse as before.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

__all__ = ["ReadableGroup", "readable_type"]

_WORDS = {
    "str": "TEXT",
    "path": "PATH",
    "file": "FILE",
    "directory": "DIR",
    "int": "INTEGER",
    "int range": "INTEGER",
    "float": "NUMBER",
    "float range": "NUMBER",
    "datetime": "DATE",
    "uuid": "UUID",
}


def readable_type(label: str | None) -> str | None:
    """typer's ``<type>`` label in click's words (None: show nothing).

    Examples
    --------
    >>> readable_type("<str>"), readable_type("<bool>"), readable_type("<list[Path]>")
    ('TEXT', None, 'PATH...')
    >>> readable_type("<aic|bic>")
    'aic|bic'
    """
    if label is None:
        return None
    inner = label[1:-1] if label.startswith("<") and label.endswith(">") else label
    many = re.fullmatch(r"list\[(.+)\]", inner)
    if many:
        one = readable_type(f"<{many.group(1).lower()}>")
        return None if one is None else f"{one}..."
    if inner == "bool":
        return None
    return _WORDS.get(inner, inner)


class _ReadableArgument(TyperArgument):
    """An argument whose help shows its type in words (``readable``, set by the group)."""

    readable: str | None = None

    def display_type_rich(self, ctx: Any) -> str | None:
        return self.readable


def _readable(cmd: Any, ctx: typer.Context) -> None:
    for param in cmd.params:
        if param.metavar is not None or not isinstance(param, TyperOption | TyperArgument):
            continue
        shown = readable_type(param.display_type_rich(ctx))
        if isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""
        elif isinstance(param, TyperArgument):
            param.metavar = (param.name or "value").upper()
            param.__class__ = _ReadableArgument
            setattr(param, "readable", shown)  # noqa: B010 (the class was just swapped)
        else:
            param.metavar = shown or ""
    made = cmd.get_help_option  # -h/--help is made per call: shown as a flag too

    def help_option(context: Any) -> Any:
        option = made(context)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    cmd.get_help_option = help_option
    for sub in getattr(cmd, "commands", {}).values():
        _readable(sub, ctx)


class ReadableGroup(TyperGroup):
    """The ``sharelake`` group: readable metavars on every command below it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _readable(self, typer.Context(self))
