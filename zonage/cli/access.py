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
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from zonage.cli.common import DecimalCommaOpt, RawColumnsOpt, console, fail_in, out, paths_of
from zonage.errors import ZonageError
from zonage.export import csv_style
from zonage.numbers import french_number


def _n(value: float) -> str:
    """A count in French (``1 310``)."""
    return french_number(float(value), 0)


def _d(value: float, digits: int = 1) -> str:
    """A figure in French (``2,5``)."""
    return french_number(float(value), digits)


def _summary(run, name: str, written: list) -> None:
    settings = run.settings
    communes = run.communes
    out.print(f"[bold]accessibilité aux médecins généralistes[/] — {settings['method']}, décroissance "
              f"{settings['decay']}, seuil {settings['cutoff_min']:g} min, ligne droite × {settings['detour']:g}, "
              f"vitesses {settings['speeds_km_kmh']}, point des communes : {settings['point']}", soft_wrap=True,
              highlight=False)
    out.print(f"{_n(len(communes))} communes, {_n(communes['population'].sum())} habitants, "
              f"{_n(communes['gp_count'].sum())} médecins généralistes ; {_n(sum(run.pairs.values()))} paires de "
              "communes sous le seuil")
    q = communes["access"].quantile([0.1, 0.5, 0.9])
    out.print(f"médecins généralistes accessibles pour {_n(settings['scale'])} habitants (pondérés par la "
              f"distance) : moyenne pondérée par la population {_d(run.national_mean())} ; communes : p10 "
              f"{_d(q.iloc[0])}, médiane {_d(q.iloc[1])}, p90 {_d(q.iloc[2])} ; "
              f"{_n((communes['access'] == 0).sum())} communes sans médecin accessible")
    steps = {"read": "lecture", "costs": "trajets", "fca": "calcul", "aggregate": "agrégation",
             "compare": "comparaison"}
    timings = ", ".join(f"{steps.get(k, k)} {_d(v, 2)} s" for k, v in run.timings.items())
    out.print(f"durées : {timings}", highlight=False)
    comparison = run.comparison
    if len(comparison):
        year = int(comparison["year"].max())
        part = comparison[comparison["year"] == year]
        table = Table(title=f"corrélation avec l'APL DREES {year} (ici : effectifs de médecins, lignes droites)")
        for column in ("région", "communes", "Pearson", "Spearman", "BV2012", "Pearson (BV)", "Spearman (BV)"):
            table.add_column(column, justify="left" if column == "région" else "right")
        by_level = {level: frame.set_index("region") for level, frame in part.groupby("level")}
        commune_level, bv_level = by_level.get("commune"), by_level.get("bv2012")
        if commune_level is None:
            return
        for region, row in commune_level.iterrows():
            bv = bv_level.loc[region] if bv_level is not None and region in bv_level.index else None
            table.add_row(
                "ensemble calculé" if region == "all" else f"{region} {row['region_nom']}", _n(row["n"]),
                _d(row["pearson"], 2), _d(row["spearman"], 2),
                "" if bv is None else _n(bv["n"]), "" if bv is None else _d(bv["pearson"], 2),
                "" if bv is None else _d(bv["spearman"], 2),
            )
        out.print(table)
    else:
        out.print("pas de couche APL DREES (apl_communes) : comparaison non faite")
    for path in written:
        out.print(f"écrit : {path}", soft_wrap=True, highlight=False)


def _grid(paths, raster: Path, territory, method, decay, cutoff, model, point, scale, name, csv) -> None:
    from zonage.access import write_geotiff
    from zonage.export import write_table
    from zonage.studies.access import grid_accessibility

    if not territory or len(territory) != 1:
        raise ZonageError("--grid demande exactement un --territory (les communes et médecins autour de la grille)")
    if not raster.exists():
        raise ZonageError(f"{raster} : raster introuvable")
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
    out.print(f"[bold]accessibilité aux médecins généralistes sur une grille[/] — {settings['method']}, "
              f"décroissance {settings['decay']}, seuil {settings['cutoff_min']:g} min ; territoire "
              f"{settings['territory']}", soft_wrap=True,
              highlight=False)
    mean = (cells["access"] * cells["population"]).sum() / cells["population"].sum()
    q = cells["access"].quantile([0.1, 0.5, 0.9])
    out.print(f"{_n(len(cells))} carreaux habités, {_n(cells['population'].sum())} habitants, "
              f"{_n(settings['pairs'])} paires carreau–commune pondérées ; médecins généralistes pour {_n(scale)} "
              f"habitants : moyenne pondérée par la population {_d(mean)}, carreaux : p10 {_d(q.iloc[0])}, médiane "
              f"{_d(q.iloc[1])}, p90 {_d(q.iloc[2])} ; {_n((cells['assigned'] == 'nearest').sum())} carreaux hors "
              "de toute commune (commune la plus proche retenue)")
    for path in written:
        out.print(f"écrit : {path}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``access`` command to ``app``."""

    @app.command("access")
    def access_command(
        ctx: typer.Context,
        method: Annotated[str, typer.Option(help="Méthode : 2sfca, e2sfca ou 3sfca.")] = "e2sfca",
        decay: Annotated[
            str | None,
            typer.Option(help="Décroissance avec le temps de trajet : binary, drees, luo-qi, exp:BETA, gauss:SIGMA, "
                              "linear:ZERO_AT, steps:B=W,B=W… (par défaut : binary pour 2sfca, drees sinon)."),
        ] = None,
        cutoff: Annotated[float, typer.Option(help="Temps de trajet maximal du bassin, en minutes.")] = 30.0,
        detour: Annotated[float, typer.Option(help="Rapport distance routière / distance à vol d'oiseau.")] = 1.3,
        speeds: Annotated[
            str, typer.Option(help="Modèle de vitesse : km de route jusqu'auxquels vaut chaque vitesse (km/h), puis "
                                   "la vitesse au-delà.")
        ] = "5:30,20:60,80",
        point: Annotated[str, typer.Option(
            help="Point de la commune : representative (point intérieur) ou centroid.")] = "representative",
        territory: Annotated[
            list[str] | None, typer.Option(help="Territoire à calculer (metro, 971, 972, 973, 974, 976 ; répéter).")
        ] = None,
        scale: Annotated[float, typer.Option(help="Résultats exprimés pour ce nombre d'habitants.")] = 100_000.0,
        name: Annotated[str, typer.Option(help="Préfixe des tables écrites dans data/processed (sans -o).")
                        ] = "access",
        output: Annotated[Path | None, typer.Option(
            "-o", "--output", help="Table des communes (.csv, .xlsx, .parquet) ; les territoires et la comparaison "
                                   "DREES à côté (<nom>_territoires, <nom>_vs_drees). Sans -o : tables de travail "
                                   "dans data/processed (access_communes.csv…).")] = None,
        # not RegionFilterOpt: the région also chooses the territory computed
        region: Annotated[str | None, typer.Option(
            help="Code INSEE de la région (44 Grand Est, 28 Normandie…) : calcul sur son territoire (métropole ou "
                 "DOM), tables réduites à ses communes et à leurs territoires.")] = None,
        # not SepOpt / BomOpt: the defaults depend on -o
        sep: Annotated[str | None, typer.Option(
            help="Séparateur des CSV : « ; » par défaut avec -o (tableur réglé en français), « , » pour les tables "
                 "de data/processed.")] = None,
        bom: Annotated[bool | None, typer.Option(
            "--bom/--no-bom", help="Marque BOM UTF-8 en tête des CSV ; par défaut oui avec -o, non sinon.",
            show_default=False)] = None,
        decimal_comma: DecimalCommaOpt = False,
        raw_columns: RawColumnsOpt = False,
        grid: Annotated[
            Path | None,
            typer.Option(help="Raster de population (GeoTIFF) : calcul par carreau au lieu de par commune (un seul "
                              "--territory) ; écrit un GeoTIFF de l'accessibilité."),
        ] = None,
    ) -> None:
        """Accessibilité de chaque commune aux médecins généralistes (BPE, populations, trajets) ; comparée à l'APL."""
        from zonage.access import StraightLine, parse_decay
        from zonage.access.costs import parse_speeds
        from zonage.export import format_of, write_table
        from zonage.studies.access import commune_accessibility, cut_to_region

        planner = output is not None
        csv = csv_style(sep or (";" if planner else ","), planner if bom is None else bom, decimal_comma)
        try:
            if output is not None:
                format_of(output)
                if grid is not None:
                    raise ZonageError("-o vaut pour les tables des communes ; --grid écrit dans data/processed")
            if region is not None and grid is not None:
                raise ZonageError("--region vaut pour les tables des communes ; avec --grid, donner --territory")
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
                out.print(f"terminé en {_d(time.perf_counter() - start)} s")
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
            out.print(f"terminé en {_d(time.perf_counter() - start)} s")
        except ZonageError as exc:
            fail_in(ctx, exc)
