"""Compare our replay of a conformance vector with the reference trace, field by field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from astera.replay import replay


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two JSON values differ (ours ``a``, reference ``b``)."""
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
    if type(a) is not type(b) or a != b:
        return [f"{path}: ours={a!r} ref={b!r}"]
    return []


def compare_vector(vectors: Path, name: str, limit: int = 20) -> list[str]:
    scenario = json.loads((vectors / f"{name}.scenario.json").read_text())
    with gzip.open(vectors / f"{name}.trace.json.gz", "rt") as f:
        ref = json.load(f)
    ours = replay(scenario)
    problems = [f"initial{d}" for d in diff(ours["initial"], ref["initial"])]
    for s_ours, s_ref in zip(ours["steps"], ref["steps"], strict=True):
        for field in ("ok", "error", "timestamp", "state"):
            for d in diff(s_ours[field], s_ref[field], field):
                problems.append(f"step {s_ref['step']} ({s_ref['action']['op']}): {d}")
        if len(problems) >= limit:
            break
    return problems[:limit]


if __name__ == "__main__":
    import sys

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "vectors"
    names = sys.argv[2:] or sorted(p.name.split(".")[0] for p in root.glob("*.scenario.json"))
    for n in names:
        probs = compare_vector(root, n, 8)
        print(f"{n}: {'OK' if not probs else 'MISMATCH'}")
        for pr in probs:
            print("   ", pr[:300])
