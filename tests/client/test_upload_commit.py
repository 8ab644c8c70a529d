"""The client never undoes an upload that a node has already committed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from sharelake.client.session import NodeUnavailableError
from sharelake.client.transport import Reply
from sharelake.client.upload import UploadError, _Progress, _two_phase


class FakeSession:
    """Three nodes answering prepare and commit; ``down`` fails its commit."""

    def __init__(self, down: set[int], *, all_fail: bool = False) -> None:
        self.down, self.all_fail = down, all_fail
        self.calls: list[tuple[int, str]] = []

    def node_name(self, i: int) -> str:
        return f"P{i}"

    def request(self, node: int, method: str, path: str, body: bytes = b"", **kw: Any) -> Reply:
        what = path.rsplit("/", 1)[-1]
        self.calls.append((node, what))
        if what == "commit" and (node in self.down or self.all_fail):
            raise NodeUnavailableError(f"P{node} is not reachable", node=node)
        return Reply(node, 200, "application/json", b'{"version": 2}')

    def on_all(
        self, calls: Sequence[Callable[[], Reply]], *, wait_all: bool = False, **kw: Any
    ) -> list[Reply]:
        out, first = [], None
        for c in calls:
            try:
                out.append(c())
            except NodeUnavailableError as exc:
                first = first or exc
        if first is not None:
            raise first
        return out


def run(session: FakeSession) -> None:
    _two_phase(session, "upload-0001", [b"x"] * 3, [None] * 3, _Progress(False, "t"), 5.0)  # type: ignore[arg-type]


def test_a_commit_that_failed_on_one_node_after_the_others_committed_is_not_aborted() -> None:
    s = FakeSession(down={2})
    with pytest.raises(UploadError, match=r"committed on P0, P1 but not on every node") as e:
        run(s)
    assert e.value.node == 2 and e.value.upload_id == "upload-0001"
    assert "upload_id='upload-0001'" in str(e.value)
    assert not [c for c in s.calls if c[1] == "abort"]


def test_a_commit_that_failed_on_every_node_is_aborted_on_all_three() -> None:
    s = FakeSession(down=set(), all_fail=True)
    with pytest.raises(UploadError, match=r"aborted on all nodes"):
        run(s)
    assert sorted(c[0] for c in s.calls if c[1] == "abort") == [0, 1, 2]
