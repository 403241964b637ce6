"""Running a study: paths on local processes or a Dask cluster, streamed to Parquet.

``DIR`` (``--out``) holds

* ``study.json``: the validated study (its digest names the results: a directory holding
  another study's results is refused, never overwritten);
* ``paths/steps-NNNNNNN.parquet`` and ``paths/outcome-NNNNNNN.parquet`` per finished path
  (written by the parent as each path comes back, so memory stays bounded);
* ``failures/path-NNNNNNN.json`` per failed path: its index, seed and traceback (the study
  goes on without it).

``--resume`` runs only the paths with neither results nor a recorded failure; asked for more
paths than the directory holds, it runs the new ones (the path count is not part of the
study's identity, :meth:`Study.digest`). The path
function is the same on every kind of worker and depends on the study and the path index
alone, so the Parquet tables are identical whatever the workers.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..worker_lifetime import exit_with_parent
from .path import OUTCOME_COLUMNS, STEP_COLUMNS, prepared, run_path
from .study import Study, StudyError, differences, parse_study

if TYPE_CHECKING:
    from distributed import Client

STRING_COLUMNS = frozenset(("pool", "reserve", "state_hash"))
#: Paths in flight per worker: enough to keep workers busy, few enough to bound memory.
IN_FLIGHT_PER_WORKER = 2
#: Seconds to wait for a Dask scheduler to answer before refusing the study.
SCHEDULER_TIMEOUT = 10
#: Differing fields a refusal of another study's results names.
MAX_DIFFERENCES = 5


@dataclass(frozen=True)
class PathResult:
    """A finished path's tables (rows), or its failure."""

    index: int
    steps: list[tuple[Any, ...]] | None = None
    outcome: list[tuple[Any, ...]] | None = None
    error: str | None = None
    #: CPU seconds the worker spent on the path (for benchmarks: not part of the results).
    cpu_seconds: float = 0.0


def path_task(study_data: dict[str, Any], base_dir: str, index: int) -> PathResult:
    """Run one path; never raises (a failure comes back with its traceback)."""
    start = time.process_time()
    try:
        study = parse_study(study_data, base_dir)
        path = run_path(study, index)
        return PathResult(index, path.steps, path.outcome(), cpu_seconds=time.process_time() - start)
    except Exception:  # noqa: BLE001 - a failing path is recorded and the study goes on
        return PathResult(index, error=traceback.format_exc(), cpu_seconds=time.process_time() - start)


def _table(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    arrays = [
        pa.array(list(col), type=pa.string() if name in STRING_COLUMNS else pa.int64())
        for name, col in zip(columns, cols, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=list(columns))


def _paths(n: int) -> str:
    """``n`` paths in words ("1 path", "8 paths")."""
    return f"{n:,} path" if n == 1 else f"{n:,} paths"


def check_folder(root: Path) -> None:
    """Refuse an ``--out`` that is, or lies under, a file (it could never be a folder)."""
    for folder in (root, *root.parents):
        if folder.exists():
            if not folder.is_dir():
                raise StudyError("--out", f"{folder} is a file, not a folder")
            return


class ResultDir:
    """A study's result directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths = root / "paths"
        self.failures = root / "failures"

    def check(self, study: Study, resume: bool) -> None:
        """Refuse (writing nothing) a directory that ``study`` may not run into: one holding
        another study's results (saying what differs), this study's without ``resume`` or with
        more paths than ``study`` asks for, or anything else. Resuming with more paths runs
        only the new ones."""
        check_folder(self.root)
        if (self.root / "study.json").exists():
            held = self.study()
            if held.digest() != study.digest():
                differ = differences(held, study)
                more = ", ..." if len(differ) > MAX_DIFFERENCES else ""
                shown = ", ".join(differ[:MAX_DIFFERENCES]) + more
                raise StudyError(
                    "--out",
                    f"{self.root} holds another study's results ({held.name}): {shown} differ"
                    + ("" if held.name == study.name else f" (this study is {study.name})"),
                )
            if not resume:
                raise StudyError(
                    "--out",
                    f"{self.root} holds this study's results ({_paths(held.paths)}): pass --resume to "
                    "finish it or to run more paths",
                )
            if study.paths < held.paths:
                raise StudyError(
                    "--paths",
                    f"{self.root} holds {_paths(held.paths)} of this study; --resume can add paths, "
                    f"not drop them: ask for at least {held.paths:,}",
                )
        elif self.root.exists() and any(self.root.iterdir()):
            raise StudyError("--out", f"{self.root} is not empty and holds no study")

    def open(self, study: Study, resume: bool) -> None:
        """Create it for ``study``, or reopen it to resume the same study (:meth:`check` first)."""
        self.check(study, resume)
        manifest = self.root / "study.json"
        self.paths.mkdir(parents=True, exist_ok=True)
        self.failures.mkdir(exist_ok=True)
        doc = {
            "digest": study.digest(),
            "name": study.name,
            "base_dir": study.base_dir,
            "study": study.canonical(),
        }
        manifest.write_text(json.dumps(doc, indent=1) + "\n")

    def study(self) -> Study:
        held = json.loads((self.root / "study.json").read_text())
        return parse_study(held["study"], held["base_dir"])

    def done(self) -> set[int]:
        """Paths with results or a recorded failure."""
        ok = {int(f.stem.split("-")[1]) for f in self.paths.glob("outcome-*.parquet")}
        return ok | {int(f.stem.split("-")[1]) for f in self.failures.glob("path-*.json")}

    def write(self, result: PathResult, seed: int) -> None:
        i = result.index
        if result.error is not None:
            doc = {"path": i, "seed": [seed, i], "traceback": result.error}
            (self.failures / f"path-{i:07d}.json").write_text(json.dumps(doc, indent=1) + "\n")
            return
        assert result.steps is not None and result.outcome is not None
        pq.write_table(_table(STEP_COLUMNS, result.steps), self.paths / f"steps-{i:07d}.parquet")
        # The outcome file is written last: its presence marks the path done (for --resume).
        tmp = self.paths / f".outcome-{i:07d}.parquet"
        pq.write_table(_table(OUTCOME_COLUMNS, result.outcome), tmp)
        tmp.replace(self.paths / f"outcome-{i:07d}.parquet")

    def table(self, kind: str) -> pa.Table:
        """All paths' ``steps`` or ``outcome`` rows, ordered by path."""
        files = sorted(self.paths.glob(f"{kind}-*.parquet"))
        columns = STEP_COLUMNS if kind == "steps" else OUTCOME_COLUMNS
        if not files:
            return _table(columns, [])
        # Paths written before a column was added read as nulls in it (a resumed older study).
        return pa.concat_tables((pq.read_table(f) for f in files), promote_options="default")

    def failed(self) -> list[dict[str, Any]]:
        """The recorded failures (``path``, ``seed``, ``traceback``), ordered by path."""
        return [json.loads(f.read_text()) for f in sorted(self.failures.glob("path-*.json"))]


def failure_reason(failure: dict[str, Any]) -> str:
    """A failed path's reason in one line: the exception its traceback ends with."""
    lines = [line for line in str(failure.get("traceback", "")).splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no traceback recorded"


Progress = Callable[[PathResult], None]


def _local(study: Study, todo: list[int], workers: int) -> Iterator[PathResult]:
    """Paths on ``workers`` local processes (in this process when ``workers`` is 1)."""
    data, base = study.canonical(), study.base_dir
    if workers <= 1:
        for i in todo:
            yield path_task(data, base, i)
        return
    with ProcessPoolExecutor(
        max_workers=workers, initializer=exit_with_parent, initargs=(os.getpid(),)
    ) as pool:
        pending: set[Future[PathResult]] = set()
        queue = iter(todo)
        for i in queue:
            pending.add(pool.submit(path_task, data, base, i))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                yield f.result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(path_task, data, base, nxt))


def connect(scheduler: str) -> Client:
    """A client of the Dask scheduler at ``scheduler``; one that does not answer (or a bad
    address) refuses the study, before anything is written."""
    from distributed import Client  # noqa: PLC0415 - only when asked for

    try:
        return Client(scheduler, timeout=SCHEDULER_TIMEOUT)  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as e:
        raise StudyError("--scheduler", f"no Dask scheduler answers at {scheduler}: {e}") from None


def _dask(study: Study, todo: list[int], client: Client) -> Iterator[PathResult]:
    """Paths on an existing Dask distributed cluster (the client is closed at the end)."""
    from distributed import as_completed  # noqa: PLC0415 - only when asked for

    data, base = study.canonical(), study.base_dir
    with client:
        limit = max(1, sum(client.nthreads().values())) * IN_FLIGHT_PER_WORKER  # type: ignore[no-untyped-call]
        queue = iter(todo)
        futures = [
            client.submit(path_task, data, base, i, pure=False)
            for _, i in zip(range(limit), queue, strict=False)
        ]
        done = as_completed(futures)  # type: ignore[no-untyped-call]
        for f in done:
            yield f.result()
            f.release()
            nxt = next(queue, None)
            if nxt is not None:
                done.add(client.submit(path_task, data, base, nxt, pure=False))  # type: ignore[no-untyped-call]


def run_study(
    study: Study,
    out: Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> ResultDir:
    """Run every path of ``study`` not yet in ``out``; results stream to Parquet there."""
    results = ResultDir(out)
    results.check(study, resume)
    prepared(study)  # the book, parameters and prices are checked here, before anything is written
    client = connect(scheduler) if scheduler else None
    results.open(study, resume)
    done = results.done()
    todo = [i for i in range(study.paths) if i not in done]
    stream = _dask(study, todo, client) if client is not None else _local(study, todo, workers)
    for result in stream:
        results.write(result, study.seed)
        if progress is not None:
            progress(result)
    return results
