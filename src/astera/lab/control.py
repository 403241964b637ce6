"""The matched control of an isolation study: the same study without one Mini-Pool's crash.

A study with ``[isolation] mini_pool = K`` asks what Mini-Pool K's crash costs everyone else.
Its control is the study with every shock and depeg on K's *own* assets (reserves of K that
no other pool lists, tranches aside) made neutral: a shock's change becomes 0 and a depeg's
target 1, so its Brownian bridge is still drawn and every other draw of every path is the
same. Path i of the control therefore sees the same prices as path i of the study everywhere
but on K's own assets, and the difference of any figure between the two, path by path, is
what the crash caused (:func:`astera.lab.report.matched_isolation`).
"""

from __future__ import annotations

import pickle

from .path import prepared
from .study import Study, StudyError

#: The control's results, inside the study's result directory.
CONTROL_DIR = "control"


def own_assets(study: Study, mini_pool: int) -> set[str]:
    """Mini-Pool ``mini_pool``'s reserves that no other pool lists (its tranches excluded)."""
    p = pickle.loads(prepared(study).blob)
    if mini_pool >= len(p.mini_pools):
        raise StudyError("isolation.mini_pool", f"no Mini-Pool {mini_pool}")
    mine = {r.asset for r in p.mini_pools[mini_pool].reserves if r.tranche_of is None}
    others = {r.asset for r in p.core.reserves}
    for mp in p.mini_pools:
        if mp.id != mini_pool:
            others |= {r.asset for r in mp.reserves}
    return mine - others


def control_study(study: Study) -> Study:
    """The study without its isolated Mini-Pool's crash (module docstring)."""
    assert study.isolation is not None
    own = own_assets(study, study.isolation.mini_pool)
    prices = study.prices
    shocks = [s.model_copy(update={"change": 0.0}) if s.asset in own else s for s in prices.shocks]
    depegs = [d.model_copy(update={"target": 1.0}) if d.asset in own else d for d in prices.depegs]
    if shocks == prices.shocks and depegs == prices.depegs:
        raise StudyError(
            "isolation.mini_pool", f"no shock or depeg on Mini-Pool {study.isolation.mini_pool}'s own assets"
        )
    return study.model_copy(
        update={
            "name": f"{study.name}-control",
            "prices": prices.model_copy(update={"shocks": shocks, "depegs": depegs}),
            "isolation": None,
        }
    )
