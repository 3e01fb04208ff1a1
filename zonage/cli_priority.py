"""Commands ``zonage score`` and ``zonage simulate-zoning`` (issue 6).

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

from zonage.config import Paths, resolve_paths
from zonage.errors import ZonageError

console = Console(stderr=True)
out = Console()

_GEO = {".geojson", ".json", ".gpkg"}


def _with_geometry(frame: pd.DataFrame, paths: Paths, path: Path) -> pd.DataFrame:
    """Attach commune polygons (EPSG:4326) when ``path`` is a geographic format; arrondissements get none."""
    if path.suffix.lower() not in _GEO:
        return frame
    import geopandas as gpd

    from zonage.layers.store import read_layer

    communes = read_layer(paths, "communes", columns=["insee"])
    geometry = frame["code"].map(communes.set_index("insee").geometry)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry.to_numpy(), crs=communes.crs), crs=communes.crs)


def _pct(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:.1f} %"


def print_agreement(agreement: pd.DataFrame, console_out: Console = out) -> None:
    """Print the agreement table of :class:`zonage.priority.Comparison` with rich."""
    table = Table(title="simulated vs official zoning (ZAR, ZV compared as HZ)")
    for column in ("région", "units", "agree", "agree (pop.)", "zoned agree", "zoned agree (pop.)",
                   "ZIP official", "ZIP simulated"):
        table.add_column(column, justify="left" if column == "région" else "right")
    for row in agreement.itertuples():
        table.add_row(str(row.region), f"{row.n_units:,}", _pct(row.share_units), _pct(row.share_population),
                      _pct(row.share_units_zoned), _pct(row.share_population_zoned), _pct(row.official_zip_share),
                      _pct(row.simulated_zip_share))
    console_out.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``score`` and ``simulate-zoning`` commands to ``app``."""

    def _fail(ctx: typer.Context, exc: ZonageError) -> None:
        if ctx.find_root().params.get("debug"):
            raise exc
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None

    def _paths(ctx: typer.Context) -> Paths:
        params = ctx.find_root().params
        return resolve_paths(params.get("data"), params.get("mirror"))

    @app.command("score")
    def score_command(
        ctx: typer.Context,
        output: Annotated[Path, typer.Option("-o", "--output", help="Scores: .csv, .parquet, .geojson or .gpkg.")],
        level: Annotated[str, typer.Option(help="commune, bv2012 (TVS proxy), epci or departement.")] = "bv2012",
        region: Annotated[str | None, typer.Option(help="INSEE région code: score only its territories.")] = None,
        config: Annotated[Path | None, typer.Option(help="TOML file of parameters (merged on the defaults).")] = None,
        components: Annotated[
            Path | None, typer.Option(help="Also write the long table of components (one row per criterion).")
        ] = None,
        top: Annotated[int, typer.Option(help="Territories shown in the summary.")] = 10,
        sep: Annotated[str, typer.Option(help="CSV separator (';' for French spreadsheets).")] = ",",
    ) -> None:
        """Multi-criteria need score per territory (APL, GP density, population, QPV, gap), with its components."""
        from zonage.export import format_of, write_table
        from zonage.priority import load_config, load_inputs, territories_scores

        try:
            format_of(output)
            paths = _paths(ctx)
            params = load_config(config)
            inputs = load_inputs(paths, params, arrondissements=False)
            scores = territories_scores(inputs, level, params, region=region)
            table = scores.table
            if output.suffix.lower() in _GEO and level != "commune":
                raise ZonageError(f"{output.name}: polygons are written for --level commune only; use .csv or "
                                  ".parquet")
            write_table(_with_geometry(table, paths, output), output, sep=sep)
            if components:
                write_table(scores.components, components, sep=sep)
        except ZonageError as exc:
            _fail(ctx, exc)
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
        out.print(f"wrote {output}" + (f" and {components}" if components else ""), soft_wrap=True, highlight=False)

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
        from zonage.priority import compare_zoning, confusion_matrix, load_config, load_inputs, load_official
        from zonage.priority import simulate_zoning as simulate

        try:
            for target in (output, territories, disagreements, agreement, confusion, qpv):
                if target is not None:
                    format_of(target)
            paths = _paths(ctx)
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
            _fail(ctx, exc)
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
            out.print(f"wrote {path}", soft_wrap=True, highlight=False)
