"""Commands ``zonage map`` and ``zonage export`` (issue 7).

Registered on the main typer app by :func:`register`. Like the rest of the command line
they only parse arguments, call the library (:mod:`zonage.maps`, :mod:`zonage.studies.eligibility`)
and print what was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zonage.cli.common import console, fail_in, out, paths_of
from zonage.errors import ZonageError


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def parse_layers(values: list[str] | None) -> tuple[str, ...]:
    """``--layers zoning,qpv --layers apl`` → ``('zoning', 'qpv', 'apl')`` (all when none given)."""
    from zonage.maps import REGION_LAYERS

    if not values:
        return REGION_LAYERS
    chosen = tuple(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))
    unknown = sorted(set(chosen) - set(REGION_LAYERS))
    if unknown:
        raise ZonageError(f"unknown map layer(s) {unknown}; choose among {', '.join(REGION_LAYERS)}")
    return chosen


def register(app: typer.Typer) -> None:
    """Add the ``map`` and ``export`` commands to ``app``."""

    @app.command("map")
    def map_command(
        ctx: typer.Context,
        region: Annotated[
            list[str] | None, typer.Option(help="INSEE région code (44 Grand Est, 28 Normandie…); repeat for several.")
        ] = None,
        national: Annotated[bool, typer.Option("--national", help="Also write the national zoning map.")] = False,
        layers: Annotated[
            list[str] | None,
            typer.Option(help="Layers of a région map, comma-separated: zoning, apl, departements, qpv, structures, "
                              "picks (default: all)."),
        ] = None,
        out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder of the maps.")] = Path("maps"),
        static: Annotated[bool, typer.Option(
            "--static", help="Also write A4 maps of each région: PNG (300 dpi) and PDF (vector).")] = False,
        tiles: Annotated[bool, typer.Option(help="Base map tiles (--no-tiles: none, nothing fetched).")] = True,
        cdn: Annotated[bool, typer.Option(
            "--cdn", help="Load Leaflet from its CDN (smaller file, needs the Internet); default: inlined.")] = False,
        orientation: Annotated[str, typer.Option(
            help="Cartes statiques A4 : paysage (landscape) ou portrait.")] = "paysage",
        picks: Annotated[Path | None, typer.Option(
            "--picks", help="Postes proposés à dessiner : le CSV (ou XLSX) écrit par « zonage prioritise ».")] = None,
        date: Annotated[str | None, typer.Option(
            help="Date de la question pour les structures (arrêté de zonage et génération de QPV en vigueur), "
                 "AAAA-MM-JJ ; par défaut aujourd'hui.")] = None,
    ) -> None:
        """Interactive maps (HTML) of the zoning, QPV, APL and structures' eligibility; static maps on request."""
        from zonage.maps import write_national_map, write_region_map, write_region_static
        from zonage.maps.static import orientation_of, read_picks
        from zonage.studies.eligibility import eligibility_of_region

        try:
            chosen = parse_layers(layers)
            if not region and not national:
                raise ZonageError("give --region CODE (repeatable) and/or --national")
            page = orientation_of(orientation)
            proposed = read_picks(picks) if picks is not None else None
            paths = paths_of(ctx)
            tile = "OpenStreetMap" if tiles else None
            import pandas as pd

            from zonage.reports import undated_warning
            from zonage.rules.coerce import parse_date

            on = parse_date(date, "--date") if date is not None else None
            for code in region or []:
                rows = None
                if "structures" in chosen or static:
                    with console.status(f"région {code} : évaluation des centres de santé, MSP et hôpitaux"):
                        rows = eligibility_of_region(paths, code, on=on)[1].rows
                    columns = [c for c in rows.columns if str(c).startswith("raisons_")]
                    notice = undated_warning(pd.concat([rows[c] for c in columns]).dropna(), on) if columns else None
                    if notice:
                        console.print(notice, highlight=False, soft_wrap=True, markup=False)
                path = write_region_map(paths, code, rows, out_dir, layers=chosen, tiles=tile, cdn=cdn,
                                        picks=proposed)
                out.print(f"écrit : {path} ({_size(path)})", highlight=False, soft_wrap=True)
                if static:
                    with console.status(f"région {code}: cartes statiques A4 ({page})"):
                        files = write_region_static(paths, code, rows, out_dir, orientation=page, picks=proposed)
                    for written in files:
                        out.print(f"écrit : {written}", highlight=False, soft_wrap=True)
            if national:
                steps = iter(range(1, 100))

                def step(message: str) -> None:
                    out.print(f"carte nationale, étape {next(steps)} : {message}", highlight=False, soft_wrap=True)

                path = write_national_map(paths, out_dir, tiles=tile, cdn=cdn, on_step=step)
                out.print(f"écrit : {path} ({_size(path)})", highlight=False, soft_wrap=True)
        except ZonageError as exc:
            fail_in(ctx, exc)

    @app.command("export")
    def export_command(
        ctx: typer.Context,
        layer: Annotated[str, typer.Argument(
            help="Layer name (zoning: the zoning with commune polygons; communes, qpv, zoning_communes, finess…).")],
        fmt: Annotated[
            str | None, typer.Option("--format", "-f", help="geojson (RFC 7946), gpkg (QGIS), csv or parquet.")
        ] = None,
        output: Annotated[
            Path | None, typer.Option("-o", "--output", help="Output file (default exports/LAYER.EXT).")
        ] = None,
        territory: Annotated[
            str | None, typer.Option(help="Only this territory (metro, 971…), in its metric CRS.")
        ] = None,
        sep: Annotated[str, typer.Option(help="CSV separator (';' for French spreadsheets, the default).")] = ";",
        bom: Annotated[bool, typer.Option("--bom/--no-bom", help="UTF-8 BOM in CSV output (Excel).")] = True,
        region: Annotated[str | None, typer.Option(help="Only this région (INSEE code, e.g. 28).")] = None,
        departement: Annotated[str | None, typer.Option(help="Only this département (e.g. 57).")] = None,
        decimal_comma: Annotated[bool, typer.Option(
            "--decimal-comma/--decimal-point",
            help="Nombres des CSV avec une virgule décimale (2,47), pour un tableur réglé en français ; par défaut "
                 "point décimal (2.47), lu tel quel par QGIS et les scripts. Les codes restent du texte.")] = False,
    ) -> None:
        """Export a layer: GeoJSON (RFC 7946), GeoPackage, CSV or Parquet, written atomically.

        ``zoning`` exports the doctors' zoning with the commune polygons and a QGIS style
        (``.qml`` beside the file, and stored in the GeoPackage).
        """
        from zonage.export import csv_options, csv_style
        from zonage.maps.gis import export_layer, export_zoning

        sep = csv_style(sep, bom, decimal_comma)["sep"]
        try:
            with csv_options(decimal="," if decimal_comma else "."):
                if layer == "zoning":
                    paths = export_zoning(paths_of(ctx), output, fmt=fmt, region=region, departement=departement,
                                          sep=sep, bom=bom)
                else:
                    paths = [export_layer(paths_of(ctx), layer, output, fmt=fmt, territory=territory, sep=sep,
                                          bom=bom, region=region, departement=departement)]
        except ZonageError as exc:
            fail_in(ctx, exc)
            return
        for path in paths:
            out.print(f"écrit : {path} ({_size(path)})", highlight=False, soft_wrap=True)
