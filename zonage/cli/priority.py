"""Commands ``zonage score``, ``zonage simulate-zoning`` and ``zonage prioritise`` (issue 6).

Registered on the main typer app by :func:`register` (``register(app)`` in :mod:`zonage.cli`).
``score`` works on whole communes (GPs are counted per commune, so Paris, Lyon and
Marseille are not split); ``simulate-zoning`` splits them into arrondissements, their
territories in the zoning method. Like the rest of the command
line they only parse arguments, call the library (:mod:`zonage.priority`), write the
tables (:func:`zonage.export.write_table`, atomic) and print a summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from zonage.cli.common import console, fail_in, out, paths_of
from zonage.config import Paths
from zonage.errors import ZonageError
from zonage.export import csv_style

_GEO = {".geojson", ".json", ".gpkg"}

#: Folder of the outputs written without ``-o``: in the current directory, visible (never a temporary folder).
OUTPUTS = Path("outputs")

#: Options shared by the commands that write tables a planner opens in a spreadsheet.
Sep = Annotated[str, typer.Option(help="Séparateur des CSV (« ; » par défaut : tableur réglé en français).")]
Bom = Annotated[bool, typer.Option("--bom/--no-bom", help="Marque BOM UTF-8 en tête des CSV (Excel reconnaît "
                                                          "alors les accents) ; par défaut oui.")]
DecimalComma = Annotated[bool, typer.Option(
    "--decimal-comma/--decimal-point",
    help="Nombres des CSV avec une virgule décimale (2,47), pour un tableur réglé en français ; par défaut point "
         "décimal (2.47), lu tel quel par QGIS, pandas et les scripts. Les codes (FINESS, INSEE, codes postaux) "
         "restent du texte dans les deux cas. Pour Excel, -o FICHIER.xlsx donne des colonnes typées.")]
RawColumns = Annotated[bool, typer.Option(
    "--raw-columns", help="Noms de colonnes techniques (anglais) dans les CSV/XLSX au lieu des libellés français "
                          "(correspondance : docs/COLUMNS.md). GeoJSON, GPKG et Parquet gardent toujours les noms "
                          "techniques.")]


def default_output(name: str) -> Path:
    """``outputs/<name>.csv`` in the current directory (absolute), the default of the commands' ``-o``.

    A name that would leave the folder (a région given as ``../x``) is refused.
    """
    from zonage.export import inside_folder

    return inside_folder(OUTPUTS, f"{name}.csv")


def _with_geometry(frame: pd.DataFrame, paths: Paths, path: Path) -> pd.DataFrame:
    """Commune polygons on the table when ``path`` is a geographic format (:func:`zonage.maps.gis.with_communes`)."""
    if path.suffix.lower() not in _GEO:
        return frame
    from zonage.maps.gis import with_communes

    return with_communes(frame, paths)


def _pct(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:.1f} %"


def print_agreement(agreement: pd.DataFrame, console_out: Console = out) -> None:
    """Print the agreement table of :class:`zonage.priority.Comparison` with rich."""
    table = Table(title="simulated vs official zoning (ZAR, ZV compared as HZ)")
    for column in ("région", "units", "agree", "agree (pop.)", "zoned agree", "zoned agree (pop.)",
                   "ZIP official", "ZIP simulated"):
        table.add_column(column, justify="left" if column == "région" else "right")
    for row in agreement.to_dict("records"):
        table.add_row(str(row["region"]), f"{row['n_units']:,}", _pct(row["share_units"]),
                      _pct(row["share_population"]), _pct(row["share_units_zoned"]),
                      _pct(row["share_population_zoned"]), _pct(row["official_zip_share"]),
                      _pct(row["simulated_zip_share"]))
    console_out.print(table)


def _jsonable(value: object) -> object:
    """Plain JSON values: numpy scalars as numbers, NaN and infinities as null, tuples as lists."""
    import math

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def register(app: typer.Typer) -> None:
    """Add the ``score``, ``simulate-zoning`` and ``prioritise`` commands to ``app``."""

    @app.command("score")
    def score_command(
        ctx: typer.Context,
        output: Annotated[Path | None, typer.Option(
            "-o", "--output", help="Scores : .csv, .xlsx, .parquet, .geojson ou .gpkg ; par défaut "
                                   "outputs/score_<niveau>[_region_<code>].csv dans le dossier courant.")] = None,
        level: Annotated[str, typer.Option(help="commune, bv2012 (TVS proxy), epci or departement.")] = "bv2012",
        region: Annotated[str | None, typer.Option(help="INSEE région code: score only its territories.")] = None,
        config: Annotated[Path | None, typer.Option(help="TOML file of parameters (merged on the defaults).")] = None,
        components: Annotated[
            Path | None, typer.Option(help="Also write the long table of components (one row per criterion).")
        ] = None,
        top: Annotated[int, typer.Option(help="Territories shown in the summary.")] = 10,
        sep: Sep = ";",
        bom: Bom = True,
        decimal_comma: DecimalComma = False,
        raw_columns: RawColumns = False,
    ) -> None:
        """Multi-criteria need score per territory (APL, GP density, population, QPV, gap), with its components."""
        from zonage.export import format_of, write_table
        from zonage.priority import load_config, territories_scores
        from zonage.studies.territories import load_inputs

        csv = csv_style(sep, bom, decimal_comma)
        try:
            if output is None:
                output = default_output(f"score_{level}" + (f"_region_{region}" if region else ""))
            format_of(output)
            if components is not None:
                format_of(components)
            paths = paths_of(ctx)
            params = load_config(config)
            inputs = load_inputs(paths, params, arrondissements=False)
            scores = territories_scores(inputs, level, params, region=region)
            table = scores.table
            if output.suffix.lower() in _GEO and level != "commune":
                raise ZonageError(f"{output.name}: polygons are written for --level commune only; use .csv or "
                                  ".parquet")
            write_table(_with_geometry(table, paths, output), output, labels=None if raw_columns else "score", **csv)
            if components:
                write_table(scores.components, components, labels=None if raw_columns else "score_components",
                            **csv)
        except ZonageError as exc:
            fail_in(ctx, exc)
            return
        weights = ", ".join(f"{c.name} {c.weight:g} ({c.direction})" for c in params.scoring.criteria if c.weight)
        out.print(f"[bold]{len(table):,} territories[/] ({level}{', région ' + region if region else ''}); "
                  f"APL {params.apl_column} {params.apl_year}; weights: {weights}; "
                  f"normalisation: {params.scoring.normalisation}", soft_wrap=True, highlight=False)
        unscored = int(table["score"].isna().sum())
        if unscored:
            out.print(f"{unscored} territories without a score (too few criteria known, see 'missing')")
        shown = Table(title=f"top {top} (most need first)")
        for column in ("rank", "code", "name", "score", "APL", "GP/10k", "population", "why"):
            shown.add_column(column, justify="right" if column in ("rank", "score", "APL", "GP/10k", "population")
                             else "left", overflow="fold")
        for row in table.head(top).itertuples():
            shown.add_row(str(row.rank), str(row.code), str(row.name), f"{row.score:.1f}", f"{row.apl:.2f}",
                          f"{row.gp_density:.1f}", f"{row.population:,.0f}", str(row.explanation).split(";")[0])
        out.print(shown)
        out.print(f"écrit : {output}" + (f" et {components}" if components else ""), soft_wrap=True,
                  highlight=False)

    @app.command("simulate-zoning")
    def simulate_command(
        ctx: typer.Context,
        output: Annotated[
            Path, typer.Option("-o", "--output", help="Per commune: simulated and official classes (.csv, .parquet, "
                                                      ".geojson, .gpkg).")
        ],
        region: Annotated[
            list[str] | None, typer.Option(help="INSEE région code(s) to report (repeat; default: all).")
        ] = None,
        config: Annotated[Path | None, typer.Option(help="TOML file of parameters (merged on the defaults).")] = None,
        territories: Annotated[Path | None, typer.Option(help="Also write the territories table.")] = None,
        disagreements: Annotated[
            Path | None, typer.Option(help="Also write the disagreements (map-ready: .geojson/.gpkg for polygons).")
        ] = None,
        agreement: Annotated[Path | None, typer.Option(help="Also write the agreement table per région.")] = None,
        confusion: Annotated[Path | None, typer.Option(help="Also write the long confusion table.")] = None,
        qpv: Annotated[Path | None, typer.Option(help="Also write the QPV table (inherited / official class).")] = None,
        sep: Annotated[str, typer.Option(help="CSV separator (';' for French spreadsheets).")] = ",",
    ) -> None:
        """Simulate the 2017–2024 zoning (APL thresholds, vivier, caps) and compare it with the official zoning."""
        from zonage.export import format_of, write_table
        from zonage.priority import compare_zoning, confusion_matrix, load_config
        from zonage.priority import simulate_zoning as simulate
        from zonage.studies.territories import load_inputs, load_official

        try:
            for target in (output, territories, disagreements, agreement, confusion, qpv):
                if target is not None:
                    format_of(target)
            paths = paths_of(ctx)
            params = load_config(config)
            inputs = load_inputs(paths, params)
            simulation = simulate(inputs, params, regions=region)
            comparison = compare_zoning(simulation, load_official(paths), params.class_map)
            written = [write_table(_with_geometry(comparison.table, paths, output), output, sep=sep)]
            if territories:
                written.append(write_table(simulation.territories, territories, sep=sep))
            if disagreements:
                written.append(write_table(_with_geometry(comparison.disagreements, paths, disagreements),
                                           disagreements, sep=sep))
            if agreement:
                written.append(write_table(comparison.agreement, agreement, sep=sep))
            if confusion:
                written.append(write_table(comparison.confusion, confusion, sep=sep))
            if qpv:
                written.append(write_table(simulation.qpv, qpv, sep=sep))
        except ZonageError as exc:
            fail_in(ctx, exc)
            return
        sim = params.simulation
        caps = ", ".join(f"{k} {v:.1%}" for k, v in sim.caps.items())
        out.print(f"[bold]zoning simulation[/]: APL {params.apl_column} {params.apl_year} (proxy of the APL the "
                  f"2022 orders used); TVS proxy {sim.territory}; ZIP ≤ {sim.zip_max:g} < vivier ≤ {sim.vivier_max:g}; "
                  f"ZIP cap {sim.cap_default:.1%} ({caps or 'no région override'}); vivier {sim.vivier_order}/"
                  f"{sim.vivier_fill}, rest {sim.vivier_rest}; margin "
                  f"{'on ' + format(sim.margin_share, '.0%') if sim.margin_enabled else 'off'}",
                  soft_wrap=True, highlight=False)
        counts = simulation.territories["classe"].value_counts()
        out.print("territories: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), highlight=False)
        over = simulation.regions.loc[simulation.regions["national_over_cap"], "region"].tolist()
        if over:
            out.print(f"régions whose national selection alone exceeds the cap (no zone B): {', '.join(over)}",
                      highlight=False)
        print_agreement(comparison.agreement)
        scope = region[0] if region and len(region) == 1 else "all"
        out.print(f"[bold]confusion matrix[/] ({scope}, communes)")
        out.print(confusion_matrix(comparison.confusion, scope).to_string(), highlight=False)
        for path in written:
            out.print(f"écrit : {path}", soft_wrap=True, highlight=False)

    @app.command("prioritise")
    def prioritise_command(
        ctx: typer.Context,
        output: Annotated[Path | None, typer.Option(
            "-o", "--output", help="Postes classés : .csv, .xlsx, .geojson, .gpkg ou .parquet ; par défaut "
                                   "outputs/prioritise_region_<code>.csv dans le dossier courant.")] = None,
        region: Annotated[str, typer.Option(help="INSEE région code (44 Grand Est, 28 Normandie…).")] = "44",
        posts: Annotated[
            int | None, typer.Option(help="Posts to allocate, split evenly over the schemes (or give them per scheme).")
        ] = None,
        scheme: Annotated[
            list[str] | None,
            typer.Option(help="Scheme of the posts, repeat; NAME=COUNT for its own count (default: the config's).")
        ] = None,
        candidates: Annotated[
            Path | None,
            typer.Option(help="Candidate structures (CSV/XLSX/GeoJSON… as for `zonage eligibility`); default: the "
                              "région's FINESS centres de santé, MSP and hospitals.")
        ] = None,
        config: Annotated[Path | None, typer.Option(help="TOML file of parameters (merged on the defaults).")] = None,
        max_per_structure: Annotated[
            int | None, typer.Option(help="At most this many posts per structure (0: no cap).")] = None,
        min_per_departement: Annotated[
            int | None, typer.Option(help="At least this many posts in each département.")] = None,
        budget: Annotated[float | None, typer.Option(help="Budget in the unit of the costs (0: none).")] = None,
        cost: Annotated[
            list[str] | None, typer.Option(help="Cost of one post of a scheme, SCHEME=VALUE (repeat).")] = None,
        threshold: Annotated[
            float | None, typer.Option(help="Accessibility under which people are under-served (default 4.0).")
        ] = None,
        baseline: Annotated[
            str | None, typer.Option(help="Baseline accessibility: engine (BPE, straight lines) or drees (APL).")
        ] = None,
        summary: Annotated[
            Path | None, typer.Option(help="Summary (JSON); default <output stem>_summary.json beside the output.")
        ] = None,
        naive: Annotated[Path | None, typer.Option(help="Also write the naive rule's posts.")] = None,
        communes: Annotated[
            Path | None, typer.Option(help="Also write accessibility per commune before/after (CSV/Parquet).")
        ] = None,
        territories: Annotated[Path | None, typer.Option(help="Also write the territories table.")] = None,
        top: Annotated[int, typer.Option(help="Posts shown in the printed summary.")] = 10,
        sep: Sep = ";",
        bom: Bom = True,
        decimal_comma: DecimalComma = False,
        raw_columns: RawColumns = False,
        objective: Annotated[str | None, typer.Option(
            help="What plans are judged on: shortfall_squared (default), consultations_under, lifted, combined."
        )] = None,
        out_of_model: Annotated[bool, typer.Option(
            "--out-of-model", help="Also judge each plan on each travel model left out of the optimisation.")] = False,
        date: Annotated[str | None, typer.Option(
            help="Date of the eligibility question (zoning order in force), YYYY-MM-DD; default today.")] = None,
    ) -> None:
        """Choose the posts that most raise accessibility under the threshold; compare with the naive rule."""
        import json

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from zonage.export import format_of, write_table
        from zonage.io import write_text_atomic
        from zonage.priority import load_config
        from zonage.studies.prioritisation import prioritise

        def pairs(values: list[str] | None, what: str, number: type) -> dict[str, object]:
            parsed: dict[str, object] = {}
            for value in values or []:
                name, sign, amount = value.partition("=")
                if not name.strip():
                    raise ZonageError(f"--{what} {value!r}: expected NAME or NAME=VALUE")
                try:
                    parsed[name.strip()] = number(amount) if sign else None
                except ValueError:
                    raise ZonageError(f"--{what} {value!r}: {amount!r} is not a {number.__name__}") from None
            return parsed

        csv = csv_style(sep, bom, decimal_comma)

        def labels(table: str) -> str | None:
            return None if raw_columns else table

        try:
            if output is None:
                output = default_output(f"prioritise_region_{region}")
            for target in (output, naive, communes, territories):
                if target is not None:
                    format_of(target)
            summary_path = summary or output.with_name(f"{output.stem}_summary.json")
            paths = paths_of(ctx)
            from zonage.rules.coerce import parse_date

            on = parse_date(date, "--date")
            schemes = pairs(scheme, "scheme", int)
            costs = pairs(cost, "cost", float)
            if any(v is None for v in costs.values()):
                raise ZonageError("--cost: give SCHEME=VALUE")
            counted = {k: v for k, v in schemes.items() if v is not None}
            if counted and len(counted) != len(schemes):
                raise ZonageError("--scheme: give a count to every scheme (NAME=COUNT) or to none")
            if counted:
                per_scheme = {k: int(str(v)) for k, v in counted.items()}
                if posts is not None and posts != sum(per_scheme.values()):
                    total = sum(per_scheme.values())
                    raise ZonageError(f"--posts {posts} differs from the per-scheme counts ({total})")
                wanted: int | dict[str, int] = per_scheme
            elif posts is None:
                raise ZonageError("give --posts N (or --scheme NAME=COUNT for each scheme)")
            else:
                wanted = posts
            overrides: dict[str, object] = {}
            if schemes:
                overrides["schemes"] = list(schemes)
            for key, value in (("max_per_structure", max_per_structure), ("min_per_departement", min_per_departement),
                               ("budget", budget), ("threshold", threshold), ("baseline", baseline),
                               ("objective", objective)):
                if value is not None:
                    overrides[key] = value
            if costs:
                overrides["costs"] = {"schemes": costs}
            params = load_config(config, overrides={"allocation": overrides} if overrides else None)
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True) as progress:
                task = progress.add_task("preparing", total=None)

                def step(stage: str, done: int, total: int | None) -> None:
                    labels = {"eligibility": "assessing candidate structures", "layers": "travel costs, baseline",
                              "greedy": "allocating posts (greedy)", "naive": "naive rule"}
                    progress.update(task, description=labels.get(stage, stage), completed=done, total=total)

                rows = None
                if candidates is not None:
                    from zonage.eligibility import assess
                    from zonage.inputs import detect_columns, read_table
                    from zonage.studies.eligibility import batch_context

                    frame = read_table(candidates)
                    context = batch_context(paths)
                    rows = assess(frame, context["locator"], spec=detect_columns(frame), finess=context["finess"],
                                  crosswalk=context["crosswalk"], on=on,
                                  progress=lambda done, total: step("eligibility", done, total)).rows
                result = prioritise(paths, region, wanted, candidates=rows, config=params, progress=step, on=on,
                                    evaluate_out_of_model=out_of_model)
            written = [write_table(result.picks.round(3), output, labels=labels("priority_picks"), **csv)]
            write_text_atomic(summary_path, json.dumps(_jsonable(result.summary), ensure_ascii=False, indent=2))
            written.append(summary_path)
            if naive:
                written.append(write_table(result.naive.round(3), naive, labels=labels("priority_picks"), **csv))
            if communes:
                written.append(write_table(result.communes.round(4), communes, labels=labels("priority_communes"),
                                           **csv))
            if territories:
                written.append(write_table(result.territories.round(4), territories,
                                           labels=labels("priority_territories"), **csv))
            if out_of_model:
                target = output.with_name(f"{output.stem}_hors_modele.csv")
                written.append(write_table(result.out_of_model.round(4), target, **csv))
        except ZonageError as exc:
            fail_in(ctx, exc)
            return
        s = result.summary
        from zonage.reports import prioritisation_lines

        for line in prioritisation_lines(result, top=top):
            out.print(line, soft_wrap=True, highlight=False, markup=False)
        if s["unmet_minima"]:
            out.print(f"départements sans structure éligible (minimum non tenu) : {s['unmet_minima']}",
                      highlight=False)
        for path in written:
            out.print(f"écrit : {path}", soft_wrap=True, highlight=False)
