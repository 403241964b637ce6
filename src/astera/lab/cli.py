"""``astera lab ...``: run studies and sweeps, build reports, export paths, shock ladders.

A STUDY argument is a study file (TOML or JSON) or the name of a built-in study
(``astera lab studies`` lists them). Every refusal of a study names the field and the reason
and exits with status 2 before any path runs. A run, sweep or comparison in which any path
failed still writes its report (listing the failures), then exits with status 1 naming how
many failed and where their tracebacks are: the figures leave those paths out.
"""

from __future__ import annotations

import itertools
import json
import sys
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from astera import help_screens  # noqa: F401 - no type after a flag in --help

from .study import Study, StudyError, load_study, parse_study

app = typer.Typer(
    name="lab", help="The risk lab: Monte Carlo studies on the exact engine.", no_args_is_help=True
)
err = Console(stderr=True)


def builtin_studies() -> dict[str, Path]:
    """Built-in study name → its file (shipped in the package)."""
    folder = resources.files("astera.lab") / "studies"
    return {Path(str(f)).stem: Path(str(f)) for f in folder.iterdir() if str(f).endswith(".toml")}


def _study(ref: str, paths: int | None, from_node: str | None = None) -> Study:
    builtin = builtin_studies()
    path = Path(ref)
    try:
        if not path.exists():
            if ref not in builtin:
                raise StudyError(
                    "study",
                    f"{ref} is neither a study file nor a built-in study ({', '.join(sorted(builtin))})",
                )
            path = builtin[ref]
        study = load_study(path)
        if from_node is not None:  # the node's live book instead of the study's (validated again)
            data = study.canonical()
            data["book"] = {"node": from_node, "seed": study.book.seed}
            study = parse_study(data, study.base_dir)
        if paths is not None:
            if paths < 1:
                raise StudyError("--paths", "must be at least 1")
            study = study.model_copy(update={"paths": paths})
        return study
    except StudyError as e:
        _refuse(e)


def _refuse(e: StudyError) -> NoReturn:
    err.print(f"[red]study refused[/red]: {escape(str(e))}")
    raise typer.Exit(2)


def _progress(total: int) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )


@dataclass(frozen=True)
class Variant:
    """One study to run into one result directory (a study, its control, a grid point, a policy)."""

    label: str
    study: Study
    out: Path
    resume: bool
    #: What a refusal names before the field (``sweep``, ``compare``): the variant's label goes with it.
    kind: str = ""
    #: A short name for the progress bar when the label is long (a grid point's values): the label
    #: then prints whole on a line above the bar, which would cut it at 80 columns.
    title: str = ""

    def refusal(self, e: StudyError) -> StudyError:
        return StudyError(f"{self.kind} ({self.label}): {e.field}", e.reason) if self.kind else e


def _check_manifest(manifest: Path, doc: dict[str, Any], what: str) -> None:
    """Refuse a sweep's or comparison's --out that holds something else (writing nothing)."""
    from .runner import check_folder  # noqa: PLC0415

    out = manifest.parent
    try:
        check_folder(out)
    except StudyError as e:
        _refuse(e)
    if manifest.exists() and json.loads(manifest.read_text()).get("digest") != doc["digest"]:
        _refuse(StudyError("--out", f"{out} holds another {what}'s results"))
    if not manifest.exists() and out.exists() and any(out.iterdir()):
        _refuse(StudyError("--out", f"{out} is not empty and holds no {what}"))


def _run_all(
    runs: list[Variant],
    workers: int,
    scheduler: str | None,
    manifest: Path | None = None,
    doc: dict[str, Any] | None = None,
) -> list[Failed]:
    """Check every variant (its --out, and its book, parameters and prices built once here),
    and only then write anything: the manifest, if any, and each variant's paths. Returns the
    variants with failed paths."""
    from .path import prepared  # noqa: PLC0415 - keeps `--help` fast
    from .runner import ResultDir, connect  # noqa: PLC0415

    for v in runs:
        try:
            ResultDir(v.out).check(v.study, v.resume)
            prepared(v.study)
        except StudyError as e:
            _refuse(v.refusal(e))
    if scheduler is not None:
        try:
            connect(scheduler).close()  # type: ignore[no-untyped-call]
        except StudyError as e:
            _refuse(e)
    if manifest is not None:
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps(doc, indent=1) + "\n")
    ran = [_run(v, workers, scheduler) for v in runs]
    return [f for f in ran if f.failures]


@dataclass(frozen=True)
class Failed:
    """A variant whose result directory holds failed paths."""

    variant: Variant
    failures: list[dict[str, Any]]


def _exit_if_failed(failed: list[Failed]) -> None:
    """Exit with status 1 (after the report) when any path failed: the figures leave failed
    paths out, so a script reading only the status must not take them for the whole study."""
    from .runner import failure_reason  # noqa: PLC0415

    for f in failed:
        v, n = f.variant, len(f.failures)
        first = f.failures[0]
        err.print(
            f"{v.label}: {n} of {v.study.paths} paths failed (tracebacks in {v.out / 'failures'}); "
            f"path {first['path']}: {failure_reason(first)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if failed:
        raise typer.Exit(1)


def _run(v: Variant, workers: int, scheduler: str | None) -> Failed:
    """Run one checked variant's paths under a progress bar."""
    from .runner import run_study  # noqa: PLC0415

    if v.title:
        err.print(f"{v.title}: {v.label}", highlight=False, markup=False)
    with _progress(v.study.paths) as bar:
        task = bar.add_task(escape(v.title or v.label), total=v.study.paths, rate="")
        failed = 0

        def tick(result: Any) -> None:
            nonlocal failed
            failed += result.error is not None
            speed = bar.tasks[task].speed
            bar.update(task, advance=1, rate=f"{speed or 0:.2f} paths/s, {failed} failed")

        try:
            results = run_study(
                v.study, v.out, workers=workers, scheduler=scheduler, resume=v.resume, progress=tick
            )
        except StudyError as e:
            _refuse(v.refusal(e))
        bar.update(task, completed=len(results.done()))
    return Failed(v, results.failed())


Workers = Annotated[int, typer.Option("--workers", "-w", min=1, help="Local worker processes.")]
Scheduler = Annotated[
    str | None, typer.Option("--scheduler", help="A Dask distributed scheduler, e.g. tcp://HOST:8786.")
]
Paths = Annotated[int | None, typer.Option("--paths", "-n", help="Number of paths (default: the study's).")]
Resume = Annotated[
    bool, typer.Option("--resume", help="Finish an interrupted study in --out, or add paths to it (--paths).")
]
OpenReport = Annotated[bool, typer.Option("--open", help="Open the report in a browser.")]


@app.command()
def run(
    study: Annotated[str, typer.Argument(help="Study file (TOML/JSON) or built-in study name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Result directory (never overwritten).")],
    paths: Paths = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    resume: Resume = False,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Build the report at the end.")] = True,
    open_report: OpenReport = False,
    from_node: Annotated[
        str | None, typer.Option("--from-node", help="Start from a running node's state (http://HOST:PORT).")
    ] = None,
) -> None:
    """Run a study's paths (local processes, or a Dask cluster) into --out, then its report."""
    s = _study(study, paths, from_node)
    for table in ("sweep", "compare"):
        if getattr(s, table):
            err.print(
                f"note: this runs the study once, with its base parameters and rules; its [{table}] "
                f"table runs with `astera lab {table}`",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    runs = [Variant(s.name, s, out, resume)]
    try:
        if s.isolation is not None:
            from .control import CONTROL_DIR, control_study  # noqa: PLC0415

            target = out / CONTROL_DIR
            control = control_study(s)
            runs.append(Variant(control.name, control, target, resume or (target / "study.json").exists()))
    except StudyError as e:
        _refuse(e)
    failed = _run_all(runs, workers, scheduler)
    if report:
        _report(out, open_report)
    _exit_if_failed(failed)


@app.command()
def sweep(
    study: Annotated[str, typer.Argument(help="Study file with a \\[sweep] table, or built-in study name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Result directory (one folder per grid point).")],
    paths: Paths = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    resume: Resume = False,
    open_report: OpenReport = False,
) -> None:
    """Run the study once per point of its parameter grid (same seeds: common random numbers)."""
    s = _study(study, paths)
    if not s.sweep:
        _refuse(StudyError("sweep", "the study has no [sweep] table"))
    keys = list(s.sweep)
    doc: dict[str, Any] = {"study": s.name, "digest": s.digest(), "keys": keys, "points": []}
    runs = []
    points = list(itertools.product(*(s.sweep[k] for k in keys)))
    for n, values in enumerate(points):
        doc["points"].append({"values": list(values), "dir": f"point-{n:03d}"})
        params = {**s.parameters, **dict(zip(keys, values, strict=True))}
        variant = s.model_copy(update={"parameters": params, "sweep": {}})
        label = ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
        target = out / f"point-{n:03d}"
        resumed = resume or (target / "study.json").exists()
        runs.append(Variant(label, variant, target, resumed, "sweep", f"point {n + 1}/{len(points)}"))
    _check_manifest(out / "sweep.json", doc, "sweep")
    failed = _run_all(runs, workers, scheduler, out / "sweep.json", doc)
    _report(out, open_report)
    _exit_if_failed(failed)


@app.command()
def compare(
    study: Annotated[str, typer.Argument(help="Study file with a \\[compare] table, or a built-in study.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Result directory (one folder per policy).")],
    paths: Paths = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    resume: Resume = False,
    open_report: OpenReport = False,
) -> None:
    """Run the study under the contracts' rules and each \\[compare] policy, side by side.

    All run on identical price paths; the report compares their bad debt,
    liquidated debt at risk (LaR), over-liquidation and deficits.
    """
    s = _study(study, paths)
    if not s.compare:
        _refuse(StudyError("compare", "the study has no [compare] table of policies"))
    variants = {"contracts": None, **s.compare}
    doc = {
        "study": s.name,
        "digest": s.digest(),
        "policies": list(variants),
        "settings": {n: p.model_dump(mode="json") if p else None for n, p in variants.items()},
    }
    runs = []
    for name, policy in variants.items():
        variant = s.model_copy(update={"policy": policy, "compare": {}})
        target = out / name
        runs.append(Variant(name, variant, target, resume or (target / "study.json").exists(), "compare"))
    _check_manifest(out / "compare.json", doc, "comparison")
    failed = _run_all(runs, workers, scheduler, out / "compare.json", doc)
    _report(out, open_report)
    _exit_if_failed(failed)


def _report(out: Path, open_it: bool) -> None:
    from .report import build_report  # noqa: PLC0415

    page = build_report(out)
    typer.echo(f"report: {page} (summary: {out / 'summary.json'})")
    if open_it and not webbrowser.open(page.resolve().as_uri()):
        err.print(f"no browser could be opened: open {page.resolve()} yourself", soft_wrap=True, markup=False)


@app.command("report")
def report_cmd(
    out: Annotated[Path, typer.Argument(help="A study's or sweep's result directory.")],
    open_report: OpenReport = False,
) -> None:
    """(Re)build report.html and summary.json from a result directory's Parquet tables."""
    if not any((out / name).exists() for name in ("study.json", "sweep.json", "compare.json")):
        _refuse(StudyError("DIR", f"{out} holds no study results"))
    _report(out, open_report)


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="A study's result directory.")],
    path: Annotated[int, typer.Option("--path", "-p", min=0, help="The path to export.")],
    to: Annotated[Path, typer.Option("--to", help="Where to write the astera-scenario/1 document.")],
) -> None:
    """Re-run one path and write it as a scenario that `astera replay` runs to the same state hash."""
    from .path import run_path  # noqa: PLC0415
    from .runner import ResultDir  # noqa: PLC0415

    if not (out / "study.json").exists():
        inside = {
            "sweep.json": "its grid points' folders (point-000, ...)",
            "compare.json": "its policies' folders",
        }
        held = next((f"; its paths are in {w}" for name, w in inside.items() if (out / name).exists()), "")
        _refuse(StudyError("DIR", f"{out} holds no study results{held}"))
    study = ResultDir(out).study()
    if path >= study.paths:
        _refuse(StudyError("--path", f"the study has paths 0 to {study.paths - 1}"))
    run_ = run_path(study, path)
    try:
        doc = run_.scenario()
    except StudyError as e:
        _refuse(e)
    to.write_text(json.dumps(doc) + "\n")
    typer.echo(f"wrote {to}: {len(run_.actions)} path actions, final state {run_.protocol.state_hash()}")


@app.command()
def studies() -> None:
    """List the built-in studies (run one with `astera lab run NAME --out DIR`)."""
    table = Table("study", "paths × steps", "what it does", box=box.SIMPLE_HEAD, expand=True)
    table.columns[0].no_wrap = table.columns[1].no_wrap = True
    for name, path in sorted(builtin_studies().items()):
        study = load_study(path)
        table.add_row(name, f"{study.paths:,} × {study.steps:,}", escape(study.description))
    Console().print(table)


@app.command()
def ladder(
    scenario: Annotated[
        Path, typer.Argument(help="A scenario document: the ladder runs on its final state.")
    ],
    depth_usd: Annotated[int, typer.Option(help="USD depth per side of each model AMM pool.")] = 10_000_000,
    as_json: Annotated[
        bool, typer.Option("--json", help="The whole ladder (astera-shock-ladder/1: per pool and reserve).")
    ] = False,
) -> None:
    """Print the shock ladder of a scenario's final state: each collateral asset down 0-90 %.

    Per rung: the debt that becomes liquidatable, what the keeper repays,
    its slippage and the bad debt left; a table, or --json for machines."""
    from astera.cli.errors import CliError, load_json_file, scenario_errors  # noqa: PLC0415
    from astera.core import ProtocolError  # noqa: PLC0415
    from astera.scenario import build, run_action  # noqa: PLC0415

    from .ladder import shock_ladder  # noqa: PLC0415

    try:
        doc = load_json_file(scenario)
        with scenario_errors(scenario):
            p, _ = build(doc)
            for action in doc["actions"]:
                try:
                    with p.transaction():
                        run_action(p, action)
                except ProtocolError:  # a refused action leaves the state as it was
                    continue
    except CliError as e:
        err.print(f"[red]error:[/] {escape(str(e))}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None
    result = shock_ladder(p, depth_usd=depth_usd * 10**8)
    if as_json:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    console = Console(highlight=False)
    for renderable in _ladder_tables(result):
        console.print(renderable)


def _ladder_tables(ladder: dict[str, Any]) -> Iterator[RenderableType]:
    """The ladder for people: one table per collateral asset, totals over every pool, 80
    columns wide (``--json`` has each pool and reserve, exact)."""
    from astera.human import bps, price, usd, usd_short  # noqa: PLC0415

    market = ladder["market"]
    yield Text(
        f"Shock ladder at block time {ladder['timestamp']} (state {ladder['state_hash'][:16]}…): each "
        "collateral asset's oracle price cut, every other price unchanged; the keeper liquidates into a "
        f"constant-product market of {usd(market['depth_usd'])} a side ({bps(market['fee_bps'])} fee)."
    )
    for asset, rungs in ladder["assets"].items():
        now = next((r["price"] for r in rungs if r["shock_bps"] == 0), None)
        t = Table(
            "down", "price", "HF<1", "debt", "repaid", "slippage", "bad debt", "stuck",
            title=asset if now is None else f"{asset} (now {price(now)})",
            title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True,
        )  # fmt: skip
        for column in t.columns:
            column.justify, column.no_wrap = "right", True
        yield Text("")
        for rung in rungs:
            total = rung["total"]
            t.add_row(
                bps(rung["shock_bps"]),
                price(rung["price"]),
                f"{total['liquidatable_accounts']:,}",
                *(usd_short(total[f]) for f in ("liquidatable_debt", "debt_repaid", "slippage")),
                *(usd_short(total[f]) for f in ("bad_debt", "stuck_debt")),
            )
        yield t
    yield Text(
        "HF<1, debt: the accounts liquidatable right after the cut, and their whole debt; repaid: by the "
        "keeper; slippage: what its sales fetched below the oracle price; bad debt: what accounts owe "
        "beyond their collateral after the keeper; stuck: debt below HF 1 whose collateral the keeper "
        "could not sell at a profit. "
        "USD at the shocked prices.",
        style="dim",
    )


@app.command()
def scenarios(
    directory: Annotated[Path, typer.Argument(help="Where to write them.")] = Path("scenarios"),
) -> None:
    """Write the hand-written experiments (isolation, the seed's picture) as scenario files."""
    from .experiments import write_scenarios  # noqa: PLC0415

    for line in write_scenarios(directory):
        typer.echo(line)
