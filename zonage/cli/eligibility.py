"""Eligibility commands: a file, a région's FINESS structures, one application.

``zonage eligibility`` (a planner's file), ``zonage run`` (the région's FINESS centres de
santé, MSP and hospitals) and ``zonage application`` (one application, verdict exit codes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from zonage.cli.common import (
    VERDICT_EXIT,
    BomOpt,
    DateOpt,
    DecimalCommaOpt,
    DeficitsOpt,
    DownloadOpt,
    GeocoderUrlOpt,
    RegionOpt,
    RulesOpt,
    SchemeOpt,
    SepOpt,
    console,
    guard,
    out,
    paths_of,
    progress_bar,
)
from zonage.cli.data import print_info


def _print_summary(result, schemes, on) -> None:
    from zonage.reports import batch_summary_lines

    for line in batch_summary_lines(result, schemes, on):
        out.print(line, highlight=False, soft_wrap=True)


def _parse_day(value: str | None, option: str = "--date"):
    """A date option (YYYY-MM-DD or DD/MM/YYYY); None stays None."""
    if value is None:
        return None
    from zonage.rules.coerce import parse_date

    return parse_date(value, option)


def eligibility(
    ctx: typer.Context,
    input_file: Annotated[Path, typer.Argument(
        help="Fichier des structures : CSV, XLSX, GeoJSON, GPKG ou Parquet.")],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="Fichier résultat : .csv, .xlsx (Excel, colonnes typées), .geojson, .gpkg ou "
                               ".parquet.")],
    scheme: SchemeOpt = None,
    rules: RulesOpt = None,
    crs: Annotated[str | None, typer.Option(
        help="Système de coordonnées des colonnes x/y ou des géométries qui n'en ont pas (ex. EPSG:2154).")] = None,
    lon: Annotated[str | None, typer.Option(help="Colonne de longitude (par défaut : détectée).")] = None,
    lat: Annotated[str | None, typer.Option(help="Colonne de latitude (par défaut : détectée).")] = None,
    x: Annotated[str | None, typer.Option(help="Colonne x en coordonnées projetées (avec --crs).")] = None,
    y: Annotated[str | None, typer.Option(help="Colonne y en coordonnées projetées (avec --crs).")] = None,
    id_column: Annotated[str | None, typer.Option(
        "--id", help="Colonne d'identifiant (un doublon est une erreur).")] = None,
    finess_column: Annotated[str | None, typer.Option("--finess", help="Colonne du numéro FINESS.")] = None,
    verdicts: Annotated[Path | None, typer.Option(
        help="Écrire aussi la table longue des verdicts, un par structure et dispositif (CSV/Parquet).")] = None,
    sep: SepOpt = ";",
    bom: BomOpt = True,
    decimal_comma: DecimalCommaOpt = False,
    geocoder: Annotated[str | None, typer.Option(
        "--geocoder", "--backend",
        help="Géocodage des lignes données par une adresse (adresse, code_postal, commune…) : addok (index local), "
             "ban (API nationale : les adresses partent sur Internet) ou commune (code postal + ville). Par défaut : "
             "l'addok local s'il est installé (`zonage geocoder setup`), sinon la commune, avec une ligne d'aide, "
             "chaque ligne marquée commune_fallback.")] = None,
    geocoder_url: GeocoderUrlOpt = None,
    # not DateOpt: here a row's own « date » column wins over the option
    date: Annotated[str | None, typer.Option(
        help="Date de la question (arrêté de zonage et génération de QPV en vigueur), AAAA-MM-JJ ou JJ/MM/AAAA ; "
             "une ligne qui a une colonne « date » garde la sienne ; par défaut aujourd'hui.")] = None,
    speciality: Annotated[str | None, typer.Option(
        help="Spécialité des postes (ASTP : la zone doit être déficitaire dans cette spécialité).")] = None,
    deficits: DeficitsOpt = None,
) -> None:
    """Évalue chaque structure du fichier pour chaque dispositif ; chaque ligne ressort une fois, avec son statut."""
    from zonage.cli.geocode import print_notice
    from zonage.eligibility import assess
    from zonage.export import check_writable, csv_style, format_of, refuse_same_file, write_table
    from zonage.geocode import address_spec, check_locatable, default_cache_path
    from zonage.geocode.local import geocoding_summary
    from zonage.inputs import detect_columns, parse_crs, read_table
    from zonage.numbers import count_fr
    from zonage.rules import load_schemes, select_schemes
    from zonage.studies.eligibility import batch_context
    from zonage.studies.geocoding import batch_geocoding

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
        paths = paths_of(ctx)
        frame = read_table(input_file)
        spec = address_spec(frame, detect_columns(frame, lon=lon, lat=lat, x=x, y=y, id=id_column,
                                                  finess=finess_column))
        check_locatable(frame, spec, input_file.name)
        schemes = select_schemes(load_schemes(rules), scheme)
        out.print(f"{count_fr(len(frame), 'ligne lue', 'lignes lues')} dans {input_file} ; colonnes utilisées : "
                  f"{spec.describe()}", soft_wrap=True)
        context = batch_context(paths)
        if geocoder == "ban":
            where = geocoder_url or "l'API nationale d'adresses"
            console.print(f"[bold]note :[/] les adresses sont envoyées à {where}",
                          highlight=False, soft_wrap=True)
        on = _parse_day(date)
        table = None
        if deficits is not None:
            from zonage.rules.deficits import read_deficits

            table = read_deficits(deficits)
        with batch_geocoding(paths, frame, spec, geocoder, url=geocoder_url, cache=default_cache_path(paths.data),
                             option="--geocoder", notice=print_notice) as geocoding, \
                progress_bar("localisation et évaluation") as progress:
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
        out.print(f"{count_fr(len(result.rows), 'ligne écrite', 'lignes écrites')} dans {output}", soft_wrap=True)

    guard(ctx, action)


def run_region(
    ctx: typer.Context,
    region: RegionOpt = "44",
    download: DownloadOpt = False,
    date: DateOpt = None,
    # not DecimalCommaOpt: `run` has no --sep, its CSVs always use « ; » and a BOM
    decimal_comma: Annotated[bool, typer.Option(
        "--decimal-comma/--decimal-point",
        help="Tables CSV avec une virgule décimale (2,47) ; par défaut point décimal (2.47). Les CSV sont "
             "toujours écrits avec « ; » et un BOM UTF-8 (tableur français).")] = False,
) -> None:
    """Le travail principal : construit les couches, puis évalue chaque centre de santé, MSP et hôpital d'une région.

    Écrit outputs/eligibilite_region_<code>.csv (et .geojson, et la table des verdicts) et la carte de la région.
    """
    from zonage.export import csv_style, write_table
    from zonage.studies.eligibility import region_job

    def action() -> None:
        paths = paths_of(ctx)
        on = _parse_day(date)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as progress:
            task = progress.add_task("construction des couches")

            def layer(name: str) -> None:
                progress.update(task, description=f"couche {name}")

            def assessed(done: int, total: int) -> None:
                progress.update(task, description=f"région {region} : évaluation des structures {done}/{total}")

            job = region_job(paths, region, on=on, download=download, on_layer=layer, progress=assessed)
        statuses, structures, result = job.statuses, job.structures, job.result
        built = [s.name for s in statuses if s.action == "built"]
        out.print(f"couches : {len(built)} construites, {len(statuses) - len(built)} inchangées")
        print_info(paths)
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
        try:
            from zonage.maps import write_region_map
        except ImportError as exc:  # the [maps] extra is not installed: the tables are the job's answer
            out.print(f"carte non écrite : {exc.name} n'est pas installé (pip install 'zonage[maps]')", markup=False)
            return
        map_path = write_region_map(paths, region, result.rows)
        out.print(f"carte : {map_path}", soft_wrap=True)

    guard(ctx, action)


def application(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Une candidature à un poste, en YAML ou JSON.")],
    rules: RulesOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Afficher le verdict en JSON.")] = False,
    english: Annotated[bool, typer.Option("--en", help="Afficher le verdict en anglais.")] = False,
    deficits: DeficitsOpt = None,
) -> None:
    """Examine une candidature (dispositif, structures, médecin) : chaque condition remplie, non remplie, à vérifier.

    Code de sortie : 0 éligible, 3 à vérifier, 4 non éligible (ou non applicable), 2 erreur de saisie.
    """
    from zonage.reports import application_lines
    from zonage.rules import load_schemes
    from zonage.studies.eligibility import check_application_file

    def action() -> None:
        table = None
        if deficits is not None:
            from zonage.rules.deficits import read_deficits

            table = read_deficits(deficits)
        verdict = check_application_file(file, paths_of(ctx), rules, deficits=table)
        if json_output:
            out.print_json(json.dumps(verdict.to_dict(), ensure_ascii=False, default=str))
        else:
            scheme = load_schemes(rules).get(verdict.scheme)
            for line in application_lines(verdict, scheme, "en" if english else "fr"):
                out.print(line, soft_wrap=True, highlight=False, markup=False)
        raise typer.Exit(VERDICT_EXIT.get(verdict.status, 0))

    guard(ctx, action)


def register(app: typer.Typer) -> None:
    """Add the eligibility, run, application commands to ``app``."""
    app.command()(eligibility)
    app.command("run")(run_region)
    app.command()(application)
