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


def test_a_real_constant_has_one_plan_form_an_odd_numerator_over_a_power_of_two() -> None:
    from sharelake.plan import nodes as pn
    from sharelake.plan.canonical import PlanError
    from sharelake.relational.expr import Lit, from_json, literal_json

    def plan(e: dict[str, object]) -> dict[str, object]:
        return pn.make_plan(pn.filter_rows(pn.scan("t"), {"fn": ">", "args": [{"col": "x"}, e]}))

    pn.validate_plan(plan({"lit": 1, "shift": 1}))
    for bad, field in (
        ({"lit": 2, "shift": 2}, "lit"),
        ({"lit": 1, "shift": 0}, "shift"),
        ({"lit": 1, "shift": 1075}, "shift"),
        ({"lit": 2**53 + 1, "shift": 3}, "lit"),
        ({"lit": 1, "shift": True}, "shift"),
    ):
        with pytest.raises(PlanError, match=rf"args\[1\]\.{field}"):
            pn.validate_plan(plan(bad))
    for v in (0.5, -0.1, 1e-300, 5e-324, 123456.789):
        back = from_json(literal_json(v))
        assert isinstance(back, Lit) and back.value == v
