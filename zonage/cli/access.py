"""Command ``zonage access``: commune accessibility to GPs, for a planner (``-o``) or into data/processed.

Registered on the main typer app by :func:`register`; like the rest of the command
line it only parses arguments, calls the library (:func:`zonage.studies.access.commune_accessibility`),
writes the tables (:func:`zonage.export.write_table`, atomic) and prints a summary.

With ``-o FILE`` the communes table goes to ``FILE`` and the territories and DREES
comparison tables beside it (``<stem>_territoires``, ``<stem>_vs_drees``), with the
spreadsheet conventions of ``score`` and ``prioritise`` (``;``, BOM, French column
labels); without it, the working tables go to data/processed as before (``,``,
machine column names). ``--region`` computes the région's territory (catchments
cross région borders) and keeps the région's communes and territories.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from zonage.access.costs import parse_speeds
from zonage.cli.common import console, fail_in, out, paths_of
from zonage.cli.priority import DecimalComma, RawColumns
from zonage.errors import ZonageError
from zonage.export import csv_style
from zonage.studies.access import cut_to_region

if TYPE_CHECKING:
    pass


def _summary(run, name: str, written: list) -> None:
    settings = run.settings
    communes = run.communes
    out.print(f"[bold]accessibility to GPs[/] — {settings['method']}, decay {settings['decay']}, "
              f"cut-off {settings['cutoff_min']:g} min, straight line × {settings['detour']:g}, "
              f"speeds {settings['speeds_km_kmh']}, commune points: {settings['point']}", soft_wrap=True,
              highlight=False)
    out.print(f"{len(communes):,} communes, {int(communes['population'].sum()):,} inhabitants, "
              f"{int(communes['gp_count'].sum()):,} GPs; {sum(run.pairs.values()):,} commune pairs within the cut-off")
    q = communes["access"].quantile([0.1, 0.5, 0.9])
    out.print(f"GPs per {settings['scale']:,.0f} inhabitants within reach (decay-weighted): population-weighted "
              f"mean {run.national_mean():.1f}; communes p10 {q.iloc[0]:.1f}, median {q.iloc[1]:.1f}, "
              f"p90 {q.iloc[2]:.1f}; {int((communes['access'] == 0).sum()):,} communes with no GP within reach")
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items())
    out.print(f"time: {timings}", highlight=False)
    comparison = run.comparison
    if len(comparison):
        year = int(comparison["year"].max())
        part = comparison[comparison["year"] == year]
        table = Table(title=f"correlation with the DREES APL {year} (ours: GP counts, straight lines)")
        for column in ("région", "communes", "Pearson", "Spearman", "BV2012", "Pearson (BV)", "Spearman (BV)"):
            table.add_column(column, justify="left" if column == "région" else "right")
        by_level = {level: frame.set_index("region") for level, frame in part.groupby("level")}
        commune_level, bv_level = by_level.get("commune"), by_level.get("bv2012")
        if commune_level is None:
            return
        for region, row in commune_level.iterrows():
            bv = bv_level.loc[region] if bv_level is not None and region in bv_level.index else None
            table.add_row(
                f"{region} {row['region_nom']}", f"{row['n']:,}", f"{row['pearson']:.2f}", f"{row['spearman']:.2f}",
                "" if bv is None else f"{bv['n']:,}", "" if bv is None else f"{bv['pearson']:.2f}",
                "" if bv is None else f"{bv['spearman']:.2f}",
            )
        out.print(table)
    else:
        out.print("no DREES APL layer (apl_communes): comparison skipped")
    for path in written:
        out.print(f"wrote {path}", soft_wrap=True, highlight=False)


def _grid(paths, raster: Path, territory, method, decay, cutoff, model, point, scale, name, csv) -> None:
    from zonage.access import write_geotiff
    from zonage.export import write_table
    from zonage.studies.access import grid_accessibility

    if not territory or len(territory) != 1:
        raise ZonageError("--grid needs exactly one --territory (the communes and GPs around the grid)")
    if not raster.exists():
        raise ZonageError(f"{raster}: no such raster")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        progress.add_task(f"accessibility of the cells of {raster.name}")
        try:
            run = grid_accessibility(paths, raster, territory[0], method=method, decay=decay, cutoff=cutoff,
                                     model=model, point=point, scale=scale)
        except ValueError as exc:
            raise ZonageError(str(exc)) from None
    target = paths.processed
    written = [
        write_geotiff(run.grid, target / f"{name}_grid.tif"),
        write_table(run.cells, target / f"{name}_grid_cells.csv", **csv),
        write_table(run.aggregates, target / f"{name}_grid_territories.csv", **csv),
    ]
    cells = run.cells
    settings = run.settings
    out.print(f"[bold]accessibility to GPs on a grid[/] — {settings['method']}, decay {settings['decay']}, "
              f"cut-off {settings['cutoff_min']:g} min; territory {settings['territory']}", soft_wrap=True,
              highlight=False)
    mean = (cells["access"] * cells["population"]).sum() / cells["population"].sum()
    q = cells["access"].quantile([0.1, 0.5, 0.9])
    out.print(f"{len(cells):,} populated cells, {cells['population'].sum():,.0f} inhabitants, "
              f"{settings['pairs']:,} cell–commune pairs with a weight; GPs per {scale:,.0f} inhabitants: "
              f"population-weighted mean {mean:.1f}, cells p10 {q.iloc[0]:.1f}, median {q.iloc[1]:.1f}, "
              f"p90 {q.iloc[2]:.1f}; "
              f"{int((cells['assigned'] == 'nearest').sum())} cells outside every commune (nearest commune taken)")
    for path in written:
        out.print(f"wrote {path}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``access`` command to ``app``."""

    @app.command("access")
    def access_command(
        ctx: typer.Context,
        method: Annotated[str, typer.Option(help="2sfca, e2sfca or 3sfca.")] = "e2sfca",
        decay: Annotated[
            str | None,
            typer.Option(help="binary, drees, luo-qi, exp:BETA, gauss:SIGMA, linear:ZERO_AT, steps:B=W,B=W… "
                              "(default: binary for 2sfca, drees otherwise)."),
        ] = None,
        cutoff: Annotated[float, typer.Option(help="Catchment cut-off, minutes.")] = 30.0,
        detour: Annotated[float, typer.Option(help="Road / straight-line distance factor.")] = 1.3,
        speeds: Annotated[
            str, typer.Option(help="Speed model: road km up to which each speed (km/h) holds, then the speed beyond.")
        ] = "5:30,20:60,80",
        point: Annotated[str, typer.Option(help="Commune point: representative or centroid.")] = "representative",
        territory: Annotated[
            list[str] | None, typer.Option(help="Territory to run (metro, 971, 972, 973, 974, 976; repeat).")
        ] = None,
        scale: Annotated[float, typer.Option(help="Express results per this many inhabitants.")] = 100_000.0,
        name: Annotated[str, typer.Option(help="Prefix of the tables written to data/processed (without -o).")
                        ] = "access",
        output: Annotated[Path | None, typer.Option(
            "-o", "--output", help="Table des communes (.csv, .xlsx, .parquet) ; les territoires et la comparaison "
                                   "DREES à côté (<nom>_territoires, <nom>_vs_drees). Sans -o : tables de travail "
                                   "dans data/processed (access_communes.csv…).")] = None,
        region: Annotated[str | None, typer.Option(
            help="Code INSEE de la région (44 Grand Est, 28 Normandie…) : calcul sur son territoire (métropole ou "
                 "DOM), tables réduites à ses communes et à leurs territoires.")] = None,
        sep: Annotated[str | None, typer.Option(
            help="Séparateur des CSV : « ; » par défaut avec -o (tableur réglé en français), « , » pour les tables "
                 "de data/processed.")] = None,
        bom: Annotated[bool | None, typer.Option(
            "--bom/--no-bom", help="Marque BOM UTF-8 en tête des CSV ; par défaut oui avec -o, non sinon.",
            show_default=False)] = None,
        decimal_comma: DecimalComma = False,
        raw_columns: RawColumns = False,
        grid: Annotated[
            Path | None,
            typer.Option(help="Population raster (GeoTIFF): compute per grid cell instead of per commune "
                              "(one --territory); writes a GeoTIFF of accessibility."),
        ] = None,
    ) -> None:
        """Accessibility of every commune to GPs (BPE counts, populations, straight-line costs); vs DREES APL."""
        from zonage.access import StraightLine, parse_decay
        from zonage.export import format_of, write_table
        from zonage.studies.access import commune_accessibility

        planner = output is not None
        csv = csv_style(sep or (";" if planner else ","), planner if bom is None else bom, decimal_comma)
        try:
            if output is not None:
                format_of(output)
                if grid is not None:
                    raise ZonageError("-o applies to the commune tables; --grid writes to data/processed")
            if region is not None and grid is not None:
                raise ZonageError("--region applies to the commune tables; with --grid give --territory")
            chosen_region = None
            if region is not None:
                from zonage.regions import require_region

                chosen_region = require_region(region)
            paths = paths_of(ctx)
            try:
                chosen_decay = parse_decay(decay) if decay else None
                model = StraightLine(detour=detour, speeds=parse_speeds(speeds))
            except ValueError as exc:
                raise ZonageError(str(exc)) from None
            start = time.perf_counter()
            if grid is not None:
                _grid(paths, grid, territory, method, chosen_decay, cutoff, model, point, scale, name, csv)
                out.print(f"done in {time.perf_counter() - start:.1f}s")
                return
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                          TextColumn("{task.completed}/{task.total} territories"), TimeElapsedColumn(),
                          console=console, transient=True) as progress:
                if chosen_region is not None and not territory:
                    territory = [chosen_region.territory]
                task = progress.add_task("accessibility", total=len(territory) if territory else None)

                def step(done_territory: str, done: int, total: int) -> None:
                    progress.update(task, description=f"territory {done_territory} done", completed=done, total=total)

                try:
                    run = commune_accessibility(paths, method=method, decay=chosen_decay, cutoff=cutoff, model=model,
                                                only=territory, point=point, scale=scale, progress=step)
                except ValueError as exc:
                    raise ZonageError(str(exc)) from None
            if chosen_region is not None:
                run = cut_to_region(run, chosen_region.code)
            if output is None:
                folder = paths.processed
                files = {part: folder / f"{name}_{part}.csv" for part in ("communes", "territories", "vs_drees")}
            else:
                files = {"communes": output,
                         "territories": output.with_name(f"{output.stem}_territoires{output.suffix}"),
                         "vs_drees": output.with_name(f"{output.stem}_vs_drees{output.suffix}")}

            def labels(table: str) -> str | None:
                return table if planner and not raw_columns else None

            written = [
                write_table(run.communes, files["communes"], labels=labels("access_communes"), **csv),
                write_table(run.aggregates, files["territories"], labels=labels("access_territories"), **csv),
            ]
            if len(run.comparison):
                written.append(write_table(run.comparison, files["vs_drees"], labels=labels("access_vs_drees"), **csv))
            _summary(run, name, written)
            out.print(f"done in {time.perf_counter() - start:.1f}s")
        except ZonageError as exc:
            fail_in(ctx, exc)
