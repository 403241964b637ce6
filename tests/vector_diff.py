"""Compare our replay of a conformance vector with the reference trace, field by field.

A vector is ``NAME.scenario.json`` plus ``NAME.trace.json.gz`` (vectors/FORMAT.md). The
comparison follows FORMAT §5: the ``initial`` state, then for every step ``ok``,
``error`` (code and name), ``timestamp`` and every field of ``state``, exactly. Problems
are reported as paths (``step 7 (borrow): state.users.bob.core.USDC.debt_balance: ours=…
ref=…``), first ones first.

Run as a script to check a whole directory: ``python tests/vector_diff.py [DIR [NAME…]]``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from astera.scenario import replay

#: The per-step fields FORMAT §5 compares (``step`` and ``action`` are copies of the input).
STEP_FIELDS = ("ok", "error", "timestamp", "state")


def vector_names(vectors: Path) -> list[str]:
    """Names of the vectors in a directory and its subdirectories (``v1.1/ext-5001``): every
    scenario that has a reference trace, as its path relative to ``vectors``."""
    return sorted(
        p.relative_to(vectors).as_posix().removesuffix(".scenario.json")
        for p in vectors.rglob("*.scenario.json")
        if p.with_name(p.name.replace(".scenario.json", ".trace.json.gz")).is_file()
    )


def load_vector(vectors: Path, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scenario and its reference trace."""
    scenario = json.loads((vectors / f"{name}.scenario.json").read_text())
    with gzip.open(vectors / f"{name}.trace.json.gz", "rt") as f:
        return scenario, json.load(f)


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two JSON values differ (ours ``a``, reference ``b``); ``True`` is not ``1``."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                out.append(f"{path}.{k}: missing in ours")
            elif k not in b:
                out.append(f"{path}.{k}: extra in ours")
            else:
                out += diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in diff(x, y, f"{path}[{i}]")]
    if type(a) is not type(b) or a != b:
        return [f"{path}: ours={a!r} ref={b!r}"]
    return []


def compare_trace(ours: dict[str, Any], ref: dict[str, Any], limit: int = 20) -> list[str]:
    """The first ``limit`` differences between two traces, in step order."""
    problems = [f"initial{d}" for d in diff(ours["initial"], ref["initial"])]
    if len(ours["steps"]) != len(ref["steps"]):
        problems.append(f"step count: ours={len(ours['steps'])} ref={len(ref['steps'])}")
    for s_ours, s_ref in zip(ours["steps"], ref["steps"], strict=False):
        if len(problems) >= limit:
            break
        label = f"step {s_ref['step']} ({s_ref['action']['op']})"
        for field in STEP_FIELDS:
            problems += [f"{label}: {d}" for d in diff(s_ours[field], s_ref[field], field)]
    return problems[:limit]


def compare_vector(vectors: Path, name: str, limit: int = 20) -> list[str]:
    """Replay one vector and list its first ``limit`` differences from the reference."""
    scenario, ref = load_vector(vectors, name)
    return compare_trace(replay(scenario), ref, limit)


if __name__ == "__main__":
    import sys

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "vectors"
    names = sys.argv[2:] or vector_names(root)
    for n in names:
        probs = compare_vector(root, n, 8)
        print(f"{n}: {'OK' if not probs else 'MISMATCH'}")
        for pr in probs:
            print("   ", pr[:300])
