"""Commands ``zonage map`` and ``zonage export`` (issue 7).

Registered on the main typer app by :func:`register`. Like the rest of the command line
they only parse arguments, call the library (:mod:`zonage.maps`, :mod:`zonage.studies.eligibility`)
and print what was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zonage.cli.common import (
    BomOpt,
    DateOpt,
    DecimalCommaOpt,
    RegionFilterOpt,
    SepOpt,
    console,
    fail_in,
    out,
    paths_of,
)
from zonage.errors import ZonageError
from zonage.numbers import french_number


def _size(path: Path) -> str:
    return f"{french_number(path.stat().st_size / 1e6, 1)} Mo"


def parse_layers(values: list[str] | None) -> tuple[str, ...]:
    """``--layers zoning,qpv --layers apl`` → ``('zoning', 'qpv', 'apl')`` (all when none given)."""
    from zonage.maps import REGION_LAYERS

    if not values:
        return REGION_LAYERS
    chosen = tuple(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))
    unknown = sorted(set(chosen) - set(REGION_LAYERS))
    if unknown:
        raise ZonageError(f"couche(s) de carte inconnue(s) : {', '.join(unknown)} ; choisir parmi "
                          f"{', '.join(REGION_LAYERS)}")
    return chosen


def register(app: typer.Typer) -> None:
    """Add the ``map`` and ``export`` commands to ``app``."""

    @app.command("map")
    def map_command(
        ctx: typer.Context,
        # a list (one map per région): not the single --region of the other commands
        region: Annotated[
            list[str] | None, typer.Option(
                help="Code INSEE de la région (44 Grand Est, 28 Normandie…) ; répéter pour plusieurs.")
        ] = None,
        national: Annotated[bool, typer.Option(
            "--national", help="Écrire aussi la carte nationale du zonage.")] = False,
        layers: Annotated[
            list[str] | None,
            typer.Option(help="Couches d'une carte de région, séparées par des virgules : zoning, apl, departements, "
                              "qpv, structures, picks (par défaut : toutes)."),
        ] = None,
        out_dir: Annotated[Path, typer.Option("--out-dir", help="Dossier des cartes.")] = Path("maps"),
        static: Annotated[bool, typer.Option(
            "--static", help="Écrire aussi des cartes A4 de chaque région : PNG (300 dpi) et PDF (vectoriel).")
                          ] = False,
        tiles: Annotated[bool, typer.Option(
            help="Fond de carte en tuiles (--no-tiles : aucun, rien n'est téléchargé).")] = True,
        cdn: Annotated[bool, typer.Option(
            "--cdn", help="Charger Leaflet depuis son CDN (fichier plus léger, Internet nécessaire) ; par défaut : "
                          "inclus dans le fichier.")] = False,
        orientation: Annotated[str, typer.Option(
            help="Cartes statiques A4 : paysage (landscape) ou portrait.")] = "paysage",
        picks: Annotated[Path | None, typer.Option(
            "--picks", help="Postes proposés à dessiner : le CSV (ou XLSX) écrit par « zonage prioritise ».")] = None,
        date: DateOpt = None,
    ) -> None:
        """Cartes interactives (HTML) du zonage, des QPV, de l'APL et de l'éligibilité des structures ; cartes A4."""
        from zonage.maps import write_national_map, write_region_map, write_region_static
        from zonage.maps.static import orientation_of, read_picks
        from zonage.studies.eligibility import eligibility_of_region

        try:
            chosen = parse_layers(layers)
            if not region and not national:
                raise ZonageError("donner --region CODE (à répéter) et/ou --national")
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
                    with console.status(f"région {code} : cartes statiques A4 ({page})"):
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
            help="Nom de la couche (zoning : le zonage avec les polygones des communes ; communes, qpv, "
                 "zoning_communes, finess…).")],
        fmt: Annotated[
            str | None, typer.Option("--format", "-f", help="Format : geojson (RFC 7946), gpkg (QGIS), csv, "
                                                            "parquet ou xlsx (Excel).")
        ] = None,
        output: Annotated[
            Path | None, typer.Option("-o", "--output", help="Fichier écrit (par défaut exports/COUCHE.EXT).")
        ] = None,
        territory: Annotated[
            str | None, typer.Option(help="Seulement ce territoire (metro, 971…), dans sa projection métrique.")
        ] = None,
        sep: SepOpt = ";",
        bom: BomOpt = True,
        region: RegionFilterOpt = None,
        # single-valued, a filter: not the repeatable --departement/-d of `geocoder setup`
        departement: Annotated[str | None, typer.Option(help="Seulement ce département (ex. 57).")] = None,
        decimal_comma: DecimalCommaOpt = False,
    ) -> None:
        """Exporte une couche en GeoJSON (RFC 7946), GeoPackage, CSV, Parquet ou XLSX, écrite de façon atomique.

        « zoning » exporte le zonage médecins avec les polygones des communes et un style QGIS (.qml à côté du
        fichier, et enregistré dans le GeoPackage).
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
