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

from .book import book_document
from .study import Study, StudyError

#: The control's results, inside the study's result directory.
CONTROL_DIR = "control"


def own_assets(study: Study, mini_pool: int) -> set[str]:
    """Mini-Pool ``mini_pool``'s reserves that no other pool lists (its tranches excluded)."""
    doc = book_document(study)
    minis = doc.get("mini_pools", [])
    if mini_pool >= len(minis):
        raise StudyError("isolation.mini_pool", f"no Mini-Pool {mini_pool}")
    mine = {a for a, r in minis[mini_pool]["reserves"].items() if "tranche_of" not in r}
    others = set(doc["core_pool"]["reserves"])
    for k, mp in enumerate(minis):
        if k != mini_pool:
            others |= set(mp["reserves"])
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
