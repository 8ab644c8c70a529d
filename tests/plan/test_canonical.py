"""Plans hash the same however their keys are ordered, and floats are refused."""

from __future__ import annotations

import pytest

from sharelake.plan.canonical import PlanError, canonical_json, plan_hash, session_id


def test_key_order_does_not_change_the_plan_hash() -> None:
    a = {"op": "scan", "table": "cases", "cols": [1, 2]}
    b = {"cols": [1, 2], "table": "cases", "op": "scan"}
    assert canonical_json(a) == canonical_json(b)
    assert plan_hash(a) == plan_hash(b)


def test_a_changed_plan_has_another_hash() -> None:
    assert plan_hash({"op": "scan", "table": "a"}) != plan_hash({"op": "scan", "table": "b"})


def test_floats_are_refused_in_plans() -> None:
    with pytest.raises(PlanError, match="floats"):
        canonical_json({"threshold": 0.5})


def test_session_id_binds_plan_analyst_and_nonce() -> None:
    h = plan_hash({"op": "scan", "table": "a"})
    ids = {
        session_id(h, "analyst", "n1"),
        session_id(h, "other", "n1"),
        session_id(h, "analyst", "n2"),
    }
    assert len(ids) == 3
