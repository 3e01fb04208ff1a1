"""Command line: ``zonage fetch | build | info | sources``.

This module only parses arguments, calls the library and prints. User errors
(:class:`~zonage.errors.ZonageError`) end with a one-line message and exit code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from zonage.cli_common import console, fail, out
from zonage.config import Paths, resolve_paths
from zonage.errors import ZonageError

app = typer.Typer(
    help="Eligibility of health structures for ARS doctor-post schemes: data pipeline and tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _State:
    debug = False
    data: Path | None = None
    mirror: Path | None = None

    @classmethod
    def paths(cls) -> Paths:
        return resolve_paths(cls.data, cls.mirror)


@app.callback()
def root(
    data: Annotated[
        Path | None, typer.Option(help="Folder holding raw/ and processed/ (default $ZONAGE_DATA or ./data).")
    ] = None,
    mirror: Annotated[
        Path | None, typer.Option(help="Mirror folder of the official files (default $ZONAGE_MIRROR).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Zonage: sources → layers → eligibility, accessibility, maps."""
    _State.debug = debug
    _State.data = data
    _State.mirror = mirror


def _run(action: Callable[[], None]) -> None:
    """Run a command body; user errors end it with one line (see :func:`zonage.cli_common.fail`)."""
    try:
        return action()
    except ZonageError as exc:
        fail(exc, _State.debug)


@app.command()
def sources() -> None:
    """List the datasets of the catalogue: official URL, licence, vintage."""
    from zonage.sources import CATALOGUE

    for s in CATALOGUE.values():
        out.print(f"[bold]{s.name}[/]{' (optional)' if s.optional else ''}: {s.title}", soft_wrap=True)
        out.print(f"    vintage: {s.vintage} | licence: {s.licence} | format: {s.fmt}", soft_wrap=True)
        out.print(f"    url: {s.url}", soft_wrap=True, highlight=False)


@app.command()
def fetch(
    names: Annotated[list[str] | None, typer.Argument(help="Sources to fetch (default: all).")] = None,
    download: Annotated[bool, typer.Option("--download", help="Allow downloads from the official URLs.")] = False,
    sha256: Annotated[str | None, typer.Option(help="Expected sha256 (one source only).")] = None,
) -> None:
    """Copy sources from the mirror (or download them) into data/raw, checksum-verified."""
    from zonage.sources import CATALOGUE, get_source
    from zonage.sources import fetch as fetch_source

    def action() -> None:
        paths = _State.paths()
        chosen = [get_source(n) for n in names] if names else list(CATALOGUE.values())
        if sha256 and len(chosen) != 1:
            raise ZonageError("--sha256 pins one source: name exactly one")
        missing = []
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                      console=console, transient=True) as progress:
            for source in chosen:
                task = progress.add_task(source.name, total=None)
                try:
                    def bar(done: int, total: int | None, t: TaskID = task) -> None:
                        progress.update(t, completed=done, total=total)

                    result = fetch_source(source, paths, download=download, sha256=sha256, progress=bar)
                except ZonageError as exc:
                    if source.optional and not names:
                        missing.append(f"{source.name} (optional): {exc}")
                        continue
                    raise
                out.print(f"{result.action:>20}  {source.name}  {result.sha256[:12]}  {result.path}")
        for line in missing:
            out.print(f"{'missing':>20}  {line}", highlight=False)

    _run(action)


@app.command()
def build(
    layers: Annotated[list[str] | None, typer.Argument(help="Layers to build (default: all).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if inputs are unchanged.")] = False,
    download: Annotated[bool, typer.Option("--download", help="Allow downloads of missing sources.")] = False,
) -> None:
    """Fetch what is missing and build the processed layers (GeoParquet), then print a summary."""
    from zonage.layers import all_specs
    from zonage.layers.pipeline import build as build_layers

    def action() -> None:
        paths = _State.paths()
        specs = all_specs()
        start = time.perf_counter()
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("building", total=len(layers or specs))

            def step(name: str) -> None:
                progress.update(task, description=f"layer {name}", advance=1)

            statuses = build_layers(specs, paths, only=layers, force=force, download=download, on_step=step,
                                    on_cleanup=lambda c: out.print(c.message(), highlight=False, soft_wrap=True))
        for status in statuses:
            if status.action == "built":
                out.print(f"{status.name:<10} built in {status.seconds:.1f}s")
            else:
                out.print(f"{status.name:<10} unchanged (inputs identical, nothing to do)")
        out.print(f"done in {time.perf_counter() - start:.1f}s")
        _print_info(paths)

    _run(action)


def _print_info(paths: Paths) -> None:
    from zonage.layers.pipeline import read_manifest

    manifest = read_manifest(paths)
    if not manifest:
        raise ZonageError(f"nothing built in {paths.processed}: run `zonage build`")
    from zonage.crs import TERRITORY_CRS

    out.print(f"[bold]layers in {paths.processed}[/]", soft_wrap=True)
    for layer, entry in manifest.items():
        sources = ", ".join(entry.get("sources", {}))
        out.print(f"[bold]{layer}[/] (vintage {entry.get('vintage') or 'n/a'}; sources: {sources})", soft_wrap=True)
        for name, summary in entry["outputs"].items():
            if summary.get("territories"):
                where = ", ".join(f"{t} {n:,} ({TERRITORY_CRS[t]})" for t, n in summary["territories"].items())
                kind = f"GeoParquet per territory: {where}"
            elif summary.get("crs") == "arrays (npz)":
                kind = f"arrays (npz, {summary.get('bytes', 0) / 1e6:.1f} MB)"
            else:
                kind = "table (Parquet)"
            out.print(f"    {name}: {summary['rows']:,} rows; {kind}", soft_wrap=True, highlight=False)


@app.command()
def info(
    layer: Annotated[str | None, typer.Argument(help="Show this layer's full report (JSON).")] = None,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Check every layer file against the build manifest (size and fingerprint).")] = False,
    full: Annotated[bool, typer.Option("--full", help="With --verify: recompute every file's sha256.")] = False,
) -> None:
    """Print each layer's rows, CRS, vintage and source (or one layer's report); --verify checks the files."""
    from zonage.layers.pipeline import read_manifest

    def action() -> None:
        paths = _State.paths()
        if verify or full:
            from zonage.layers.store import verify_layers

            problems = verify_layers(paths, full=full)
            if problems:
                for problem in problems:
                    out.print(f"erreur : {problem.message}", highlight=False, soft_wrap=True)
                layers_to_rebuild = sorted({p.layer for p in problems if p.layer})
                hint = f"zonage build --force {' '.join(layers_to_rebuild)}" if layers_to_rebuild else "zonage build"
                raise ZonageError(f"{len(problems)} problème(s) dans {paths.processed} : lancer `{hint}`")
            out.print(f"couches vérifiées ({'sha256 complet' if full else 'taille et empreinte'}) : tout est conforme",
                      highlight=False)
            return
        if layer is None:
            _print_info(paths)
            return
        manifest = read_manifest(paths)
        if layer not in manifest:
            raise ZonageError(f"layer {layer!r} not built; built: {', '.join(manifest) or 'none'}")
        out.print_json(json.dumps(manifest[layer], ensure_ascii=False, default=str))

    _run(action)


def _progress_bar(label: str) -> Progress:
    return Progress(SpinnerColumn(), TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def _print_summary(result, schemes, on) -> None:
    from zonage.reports import batch_summary_lines

    for line in batch_summary_lines(result, schemes, on):
        out.print(line, highlight=False, soft_wrap=True)


def _parse_day(value: str | None, option: str = "--date"):
    """A date option (YYYY-MM-DD or DD/MM/YYYY); None stays None."""
    if value is None:
        return None
    from zonage.rules.evaluate import _parse_date

    return _parse_date(value, option)


@app.command()
def eligibility(
    input_file: Annotated[Path, typer.Argument(help="CSV/XLSX/GeoJSON/GPKG/Parquet of structures.")],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="Result file: .csv, .xlsx (Excel, typed columns), .geojson, .gpkg or .parquet.")],
    scheme: Annotated[list[str] | None, typer.Option(help="Scheme id to assess (repeat; default: all).")] = None,
    rules: Annotated[Path | None, typer.Option(help="Folder of extra or overriding scheme TOML files.")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of x/y columns or of geometries without one.")] = None,
    lon: Annotated[str | None, typer.Option(help="Longitude column (default: detected).")] = None,
    lat: Annotated[str | None, typer.Option(help="Latitude column (default: detected).")] = None,
    x: Annotated[str | None, typer.Option(help="Projected x column (with --crs).")] = None,
    y: Annotated[str | None, typer.Option(help="Projected y column (with --crs).")] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="Identifier column (duplicates are errors).")] = None,
    finess_column: Annotated[str | None, typer.Option("--finess", help="FINESS number column.")] = None,
    verdicts: Annotated[Path | None, typer.Option(help="Also write the long table of verdicts (CSV/Parquet).")] = None,
    sep: Annotated[str, typer.Option(help="Séparateur des CSV (par défaut « ; », pour un tableur français).")] = ";",
    bom: Annotated[bool, typer.Option("--bom/--no-bom", help="BOM UTF-8 en tête des CSV (Excel).")] = True,
    decimal_comma: Annotated[bool, typer.Option(
        "--decimal-comma/--decimal-point",
        help="Nombres des CSV avec une virgule décimale (2,47) pour un tableur réglé en français (le séparateur "
             "« , » devient alors « ; ») ; par défaut point décimal (2.47). Les codes restent du texte.")] = False,
    geocoder: Annotated[str | None, typer.Option(
        help="Géocodage des lignes données par une adresse (adresse, code_postal, commune…) : addok (index local), "
             "ban (API nationale : les adresses partent sur Internet) ou commune (code postal + ville). Par défaut : "
             "l'addok local s'il est installé (`zonage geocoder setup`), sinon la commune, avec une ligne d'aide, "
             "chaque ligne marquée commune_fallback.")] = None,
    geocoder_url: Annotated[str | None, typer.Option(
        help="URL of the local addok API (default http://127.0.0.1:7878) or root of the BAN API.")] = None,
    date: Annotated[str | None, typer.Option(
        help="Date of the question (zoning order and QPV generation in force), YYYY-MM-DD; rows with a 'date' "
             "column use their own; default today.")] = None,
    speciality: Annotated[str | None, typer.Option(
        help="Speciality of the posts (ASTP: the zone must be a deficit zone of this speciality).")] = None,
    deficits: Annotated[Path | None, typer.Option(
        help="Table of deficit zones per speciality (columns specialite + insee or departement).")] = None,
) -> None:
    """Assess every structure of INPUT for every scheme; every row comes out once with a status."""
    from zonage.cli_geocode import print_notice
    from zonage.eligibility import assess
    from zonage.export import check_writable, csv_style, format_of, refuse_same_file, write_table
    from zonage.geocode import address_spec, check_locatable, default_cache_path
    from zonage.geocode.local import batch_geocoding, geocoding_summary
    from zonage.inputs import detect_columns, parse_crs, read_table
    from zonage.rules import load_schemes
    from zonage.workflows import batch_context

    def action() -> None:
        format_of(output)
        refuse_same_file(output, input_file)
        if verdicts is not None:
            refuse_same_file(verdicts, input_file, output)
        csv_style(sep, bom, decimal_comma)  # a bad --sep, --crs or output place: refused before the batch runs
        if crs is not None:
            parse_crs(crs)
        for target in (output, verdicts):
            if target is not None:
                check_writable(target)
        paths = _State.paths()
        frame = read_table(input_file)
        spec = address_spec(frame, detect_columns(frame, lon=lon, lat=lat, x=x, y=y, id=id_column,
                                                  finess=finess_column))
        check_locatable(frame, spec, input_file.name)
        schemes = load_schemes(rules)
        if scheme:
            unknown = sorted(set(scheme) - set(schemes))
            if unknown:
                raise ZonageError(f"unknown scheme(s) {unknown}; known: {', '.join(schemes)}")
            schemes = {k: v for k, v in schemes.items() if k in scheme}
        out.print(f"{len(frame)} lignes lues dans {input_file} ; colonnes utilisées : {spec.describe()}",
                  soft_wrap=True)
        context = batch_context(paths)
        if geocoder == "ban":
            console.print(f"[bold]note:[/] addresses are sent to {geocoder_url or 'the national address API'}",
                          highlight=False, soft_wrap=True)
        on = _parse_day(date)
        table = None
        if deficits is not None:
            from zonage.rules.deficits import read_deficits

            table = read_deficits(deficits)
        with batch_geocoding(paths, frame, spec, geocoder, url=geocoder_url, cache=default_cache_path(paths.data),
                             option="--geocoder", notice=print_notice) as geocoding, \
                _progress_bar("localisation et évaluation") as progress:
            task = progress.add_task("assess", total=len(frame))
            result = assess(frame, context["locator"], schemes, spec=spec, crs=crs, finess=context["finess"],
                            crosswalk=context["crosswalk"], geocoder=geocoding, on=on, speciality=speciality,
                            deficits=table,
                            progress=lambda done, total: progress.update(task, completed=done, total=total))
        write_table(result.rows, output, **csv_style(sep, bom, decimal_comma))
        if verdicts:
            write_table(result.verdicts, verdicts, **csv_style(sep, bom, decimal_comma))
        _print_summary(result, schemes, on)
        geocoded = geocoding_summary(result.rows)
        if geocoded:
            out.print(geocoded, highlight=False, soft_wrap=True, markup=False)
        out.print(f"{len(result.rows):,} lignes écrites dans {output}".replace(",", "\u202f"), soft_wrap=True)

    _run(action)


@app.command("run")
def run_region(
    region: Annotated[str, typer.Option(help="INSEE région code (44 Grand Est, 28 Normandie…).")] = "44",
    download: Annotated[bool, typer.Option("--download", help="Allow downloads of missing sources.")] = False,
    date: Annotated[str | None, typer.Option(
        help="Date of the question (zoning order and QPV generation in force), YYYY-MM-DD; default today.")] = None,
    decimal_comma: Annotated[bool, typer.Option(
        "--decimal-comma/--decimal-point",
        help="Tables CSV avec une virgule décimale (2,47) ; par défaut point décimal (2.47). Les CSV sont "
             "toujours écrits avec « ; » et un BOM UTF-8 (tableur français).")] = False,
) -> None:
    """The main job: build the layers, then assess every centre de santé, MSP and hospital of a région."""
    from zonage.export import csv_style, write_table
    from zonage.layers import all_specs
    from zonage.layers.pipeline import build as build_layers
    from zonage.maps import write_region_map
    from zonage.workflows import eligibility_of_region

    def action() -> None:
        paths = _State.paths()
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as progress:
            task = progress.add_task("building layers")
            statuses = build_layers(all_specs(), paths, download=download,
                                    on_step=lambda name: progress.update(task, description=f"layer {name}"))
        built = [s.name for s in statuses if s.action == "built"]
        out.print(f"couches : {len(built)} construites, {len(statuses) - len(built)} inchangées")
        _print_info(paths)
        on = _parse_day(date)
        with _progress_bar(f"région {region} : évaluation des structures") as progress:
            task = progress.add_task("assess", total=None)
            structures, result = eligibility_of_region(
                paths, region, progress=lambda done, total: progress.update(task, completed=done, total=total),
                on=on,
            )
        folder = Path("outputs")  # results beside the planner's work, not among the layers
        folder.mkdir(exist_ok=True)
        target = folder / f"eligibilite_region_{region}.csv"
        csv = csv_style(";", True, decimal_comma)
        write_table(result.rows, target, **csv)
        write_table(result.rows, target.with_suffix(".geojson"))
        write_table(result.verdicts, folder / f"eligibilite_region_{region}_verdicts.csv", **csv)
        out.print(f"[bold]région {region}[/] : {len(structures)} centres de santé, MSP et hôpitaux (FINESS)")
        from zonage.rules import load_schemes

        _print_summary(result, load_schemes(), on)
        out.print(f"écrit : {target} et {target.with_suffix('.geojson')}", soft_wrap=True)
        map_path = write_region_map(paths, region, result.rows)
        out.print(f"carte : {map_path}", soft_wrap=True)

    _run(action)


@app.command()
def application(
    file: Annotated[Path, typer.Argument(help="A post application as YAML or JSON.")],
    rules: Annotated[Path | None, typer.Option(help="Folder of extra or overriding scheme TOML files.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    english: Annotated[bool, typer.Option("--en", help="Print the verdict in English.")] = False,
    deficits: Annotated[Path | None, typer.Option(
        help="Table of deficit zones per speciality (columns specialite + insee or departement).")] = None,
) -> None:
    """Check one application (scheme + structures + doctor profile): every condition met, failed or to check."""
    from zonage.applications import check_application_file
    from zonage.reports import application_lines
    from zonage.rules import load_schemes

    def action() -> None:
        table = None
        if deficits is not None:
            from zonage.rules.deficits import read_deficits

            table = read_deficits(deficits)
        verdict = check_application_file(file, _State.paths(), rules, deficits=table)
        if json_output:
            out.print_json(json.dumps(verdict.to_dict(), ensure_ascii=False, default=str))
        else:
            scheme = load_schemes(rules).get(verdict.scheme)
            for line in application_lines(verdict, scheme, "en" if english else "fr"):
                out.print(line, soft_wrap=True, highlight=False, markup=False)
        raise typer.Exit(VERDICT_EXIT.get(verdict.status, 0))

    _run(action)


def _register_commands() -> None:
    """Commands defined beside this module, one file per engine family."""
    from zonage.cli_access import register as register_access
    from zonage.cli_check import register as register_check
    from zonage.cli_geocode import register as register_geocode
    from zonage.cli_maps import register as register_maps
    from zonage.cli_priority import register as register_priority

    for register in (register_geocode, register_access, register_priority, register_maps, register_check):
        register(app)


_register_commands()


#: Exit codes (documented in the README): the command did its job / a user or data error /
#: an internal defect of the tool. ``zonage application`` maps verdicts to their own codes.
EXIT_OK, EXIT_USER, EXIT_BUG = 0, 2, 70
#: Exit code of ``zonage application`` per verdict.
VERDICT_EXIT = {"eligible": 0, "needs_review": 3, "not_eligible": 4, "not_applicable": 4}


def _log_crash(text: str) -> Path:
    """Write a traceback to a log file (``$ZONAGE_LOG_DIR`` or ``~/.zonage/logs``) and return its path."""
    import datetime
    import os

    folder = Path(os.environ.get("ZONAGE_LOG_DIR") or Path.home() / ".zonage" / "logs")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"erreur-{stamp}.log"
        path.write_text(text, encoding="utf-8")
    except OSError:
        import tempfile

        path = Path(tempfile.gettempdir()) / f"zonage-erreur-{stamp}.log"
        path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Console entry point: the command, under one error policy.

    Exit 0 when the command did its job (whatever the verdicts), 2 with a one-line message
    for a user or data error (a ZonageError, an unreadable or unwritable file, an unknown
    CRS, a usage error), 70 for an internal defect, whose traceback goes to a log file
    whose path is printed. ``--debug`` shows tracebacks instead.
    """
    import traceback

    import click
    from pyproj.exceptions import CRSError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    exits = (typer.Exit, click.exceptions.Exit)
    aborts = (typer.Abort, click.exceptions.Abort, KeyboardInterrupt)
    try:
        code = app(args=args, prog_name="zonage", standalone_mode=False)
        return int(code or 0) if isinstance(code, int) else EXIT_OK
    except exits as exc:
        return int(exc.exit_code)
    except aborts:
        console.print("interrompu", highlight=False)
        return 130
    except ZonageError as exc:
        if debug:
            raise
        console.print(f"[bold red]erreur :[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_USER
    except (OSError, CRSError, UnicodeError) as exc:
        if debug:
            raise
        where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        console.print(f"[bold red]erreur :[/] {detail}{where}", highlight=False, soft_wrap=True)
        return EXIT_USER
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # a usage error of the command line parser
            exc.show()
            return EXIT_USER
        if debug:
            raise
        path = _log_crash(traceback.format_exc())
        console.print(f"[bold red]erreur interne de zonage[/] (un défaut de l'outil, pas de vos données) ; "
                      f"détail dans {path}", highlight=False, soft_wrap=True)
        return EXIT_BUG


def run() -> None:  # pragma: no cover - console entry point helper
    """Entry point usable as ``python -m zonage``."""
    sys.exit(main())
