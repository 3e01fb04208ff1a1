"""Command line for geocoding: ``zonage geocoder setup|index|serve`` and ``zonage geocode``.

Registered on the main application by :func:`register`; it only parses arguments,
calls :mod:`zonage.geocode` and prints.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from zonage.cli.common import (
    AddokFolderOpt,
    BomOpt,
    CacheOpt,
    GeocoderOpt,
    GeocoderUrlOpt,
    SepOpt,
    console,
    guard,
    out,
    paths_of,
    progress_bar,
)
from zonage.errors import ZonageError
from zonage.numbers import count_fr, french_number

geocoder_app = typer.Typer(
    help="Géocodeur addok local (celui de la BAN, sur ce poste) : installer un département, indexer des fichiers "
         "d'adresses, les servir.",
    no_args_is_help=True,
)


def _folder(ctx: typer.Context, folder: Path | None) -> Path:
    return folder or paths_of(ctx).data / "geocoder" / "addok"


@geocoder_app.command("setup")
def setup(
    ctx: typer.Context,
    # --departement, -d and a list: not the single-valued --departement of `export`
    departement: Annotated[list[str] | None, typer.Option(
        "--departement", "-d", help="Département à géocoder à l'adresse (répéter : -d 57 -d 54).")] = None,
    # not DownloadOpt: here the BAN address file of a département, not a source of the catalogue
    download: Annotated[bool, typer.Option(
        "--download", help="Télécharger le fichier BAN d'un département absent du poste (adresse.data.gouv.fr).")
                        ] = False,
    file: Annotated[list[Path] | None, typer.Option(
        "--file", help="Fichier d'adresses à indexer à la place (BAN adresses-XX.csv[.gz], BAN "
                       "adresses-addok-XX.ndjson.gz, CSV BANO) ; répéter pour plusieurs.")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Avec --download : télécharger à nouveau.")] = False,
    folder: AddokFolderOpt = None,
    ban_url: Annotated[str, typer.Option(
        help="Modèle d'URL des fichiers BAN, {dep} tenant lieu du département.")
                       ] = "https://adresse.data.gouv.fr/data/ban/adresses/latest/addok/adresses-addok-{dep}.ndjson.gz",
    serve_after: Annotated[bool, typer.Option(
        "--serve", help="Puis servir l'index (comme `zonage geocoder serve`).")] = False,
) -> None:
    """Géocodage à l'adresse pour des départements : trouve (ou télécharge) leur fichier BAN, l'indexe, le contrôle.

    Hors ligne, le fichier vient de --file, d'un fichier déjà téléchargé ou du dossier addresses/ du miroir ; une
    nouvelle exécution avec les mêmes fichiers ne fait rien (« déjà indexé »).
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from zonage.geocode.local import setup_local_geocoder


    def action() -> None:
        paths = paths_of(ctx)
        with Progress(TextColumn("téléchargement BAN"), BarColumn(), DownloadColumn(), console=console,
                      transient=True) as progress:
            task = progress.add_task("download", total=None)
            report = setup_local_geocoder(
                paths, departement or [], files=file or [], download=download, refresh=refresh, folder=folder,
                url_template=ban_url,
                progress=lambda done, total: progress.update(task, completed=done, total=total))
        for line in report.lines():
            out.print(line, highlight=False, soft_wrap=True, markup=False)
        if serve_after:
            _serve_folder(report.folder, 7878, "127.0.0.1")

    guard(ctx, action)


@geocoder_app.command("index")
def index(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(
        help="Fichiers d'adresses BAN (adresses-XX.csv, adresses-addok-XX.ndjson.gz) ou BANO.")],
    folder: AddokFolderOpt = None,
    append: Annotated[bool, typer.Option("--append", help="Ajouter à l'index existant au lieu de le remplacer.")
                      ] = False,
) -> None:
    """Charge des fichiers d'adresses dans l'addok local (un Redis privé tourne le temps de l'import)."""
    from zonage.geocode import GeocodeCache, default_cache_path
    from zonage.geocode.addok import LocalAddok
    from zonage.geocode.local import forget_setup


    def action() -> None:
        work = _folder(ctx, folder)
        local = LocalAddok(work, http=False)
        with local:
            report = local.index(files, reset=not append)
        forget_setup(work)  # the index no longer matches what `geocoder setup` recorded
        cache = default_cache_path(paths_of(ctx).data)
        if cache.exists():
            with GeocodeCache(cache) as store:
                cleared = store.clear("addok:")
            if cleared:
                out.print(f"{french_number(cleared, 0)} réponses addok retirées du cache (l'index a changé)")
        out.print(
            f"{french_number(report.addresses, 0)} adresses indexées ({french_number(report.streets, 0)} voies, "
            f"{french_number(report.localities, 0)} lieux-dits, {french_number(report.municipalities, 0)} communes) "
            f"en {french_number(report.seconds, 1)} s dans {work}", soft_wrap=True)

    guard(ctx, action)


@geocoder_app.command("serve")
def serve(
    ctx: typer.Context,
    folder: AddokFolderOpt = None,
    port: Annotated[int, typer.Option(help="Port HTTP de l'API.")] = 7878,
    host: Annotated[str, typer.Option(help="Adresse d'écoute (127.0.0.1 : ce poste seulement).")] = "127.0.0.1",
) -> None:
    """Sert les adresses indexées : Redis + API HTTP addok (/search), jusqu'à Ctrl-C."""
    guard(ctx, lambda: _serve_folder(_folder(ctx, folder), port, host))


def _serve_folder(work: Path, port: int, host: str) -> None:
    """Redis + addok HTTP API on the index of ``work`` until Ctrl-C or SIGTERM."""
    from zonage.geocode.addok import AddokServer, RedisServer, write_config

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if not (work / "addok.rdb").exists():
        raise ZonageError(f"pas d'index dans {work} : lancer d'abord `zonage geocoder setup --departement NN` (ou "
                          "`zonage geocoder index FICHIER`)")
    redis = RedisServer(work)
    server = None
    previous = signal.signal(signal.SIGTERM, interrupt)  # `kill` stops the children too
    try:
        redis.start()
        write_config(work / "addok.conf", redis_port=redis.port)
        server = AddokServer(work / "addok.conf", port=port, host=host).start()
        out.print(f"addok répond sur {server.url} (Redis sur 127.0.0.1:{redis.port}) ; Ctrl-C pour arrêter",
                  soft_wrap=True)
        out.print(f"à utiliser avec : zonage geocode ENTREE -o SORTIE --backend addok --url {server.url}",
                  soft_wrap=True)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        try:
            if server is not None:
                server.stop()
        finally:
            redis.stop()
            signal.signal(signal.SIGTERM, previous)


def geocode(
    ctx: typer.Context,
    input_file: Annotated[Path, typer.Argument(
        help="Fichier CSV, XLSX, GeoJSON, GPKG ou Parquet avec des colonnes d'adresse.")],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="Fichier résultat : .csv, .xlsx, .parquet, .geojson ou .gpkg.")],
    backend: GeocoderOpt = None,
    url: GeocoderUrlOpt = None,
    addok_config: Annotated[Path | None, typer.Option(
        help="Appeler l'addok local dans le processus, avec cette configuration, au lieu de HTTP.")] = None,
    address: Annotated[str | None, typer.Option(help="Colonne de la voie (par défaut : détectée).")] = None,
    postcode: Annotated[str | None, typer.Option(help="Colonne du code postal (par défaut : détectée).")] = None,
    commune: Annotated[str | None, typer.Option(help="Colonne de la commune (par défaut : détectée).")] = None,
    low_score: Annotated[float, typer.Option(help="Signaler les résultats de score inférieur à ce seuil.")] = 0.6,
    cache: CacheOpt = True,
    sep: SepOpt = ";",
    bom: BomOpt = True,
) -> None:
    """Géocode les adresses du fichier : chaque ligne ressort une fois, avec point, score, type, libellé, alertes."""
    import geopandas as gpd
    import pandas as pd

    from zonage.crs import WGS84
    from zonage.export import format_of, refuse_same_file, write_table
    from zonage.geocode import address_spec, default_cache_path, geocode_frame
    from zonage.geocode.local import departements_of_frame
    from zonage.inputs import detect_columns, read_table
    from zonage.studies.geocoding import open_geocoder


    def action() -> None:
        kind = format_of(output)
        refuse_same_file(output, input_file)
        paths = paths_of(ctx)
        frame = read_table(input_file)
        if isinstance(frame, gpd.GeoDataFrame):
            frame = frame.drop(columns=frame.geometry.name)
        spec = address_spec(frame, detect_columns(frame, address=address, postcode=postcode, commune=commune))
        if backend == "ban":
            where = url or "l'API nationale d'adresses"
            console.print(f"[bold]note :[/] les adresses sont envoyées à {where}",
                              highlight=False, soft_wrap=True)
        departements = departements_of_frame(frame, spec)
        with open_geocoder(paths, backend, url=url, addok_config=addok_config,
                           cache=default_cache_path(paths.data) if cache else None, low_score=low_score,
                           option="--backend", departements=departements, notice=print_notice) as geocoding, \
                progress_bar(f"géocodage ({geocoding.name})") as progress:
            task = progress.add_task("geocode", total=len(frame))
            geo = geocode_frame(frame, geocoding, spec=spec,
                                progress=lambda done, total: progress.update(task, completed=done, total=total))
        geo = geo.rename(columns={c: f"{c}_geocoded" for c in geo.columns if c in frame.columns})
        result = pd.concat([frame.reset_index(drop=True), geo.reset_index(drop=True)], axis=1)
        if kind in ("geojson", "gpkg"):
            point = geo["geo_status"].isin(["ok", "review"]).to_numpy()
            geometry = gpd.GeoSeries.from_xy(geo["geo_lon"].where(point), geo["geo_lat"].where(point), crs=WGS84)
            geometry[~point] = None
            result = gpd.GeoDataFrame(result, geometry=geometry.to_numpy(), crs=WGS84)
        write_table(result, output, sep=sep, bom=bom)
        counts = geo["geo_status"].value_counts()
        out.print(f"{count_fr(len(frame), 'ligne')} ; colonnes utilisées : {spec.describe()}", soft_wrap=True)
        words = {"ok": "trouvées", "review": "à vérifier (score faible)", "commune_only": "commune seulement",
                 "not_found": "introuvables", "no_address": "sans adresse"}
        out.print(" ; ".join(f"{word} : {french_number(int(counts.get(s, 0)), 0)}" for s, word in words.items())
                  + " (colonne geo_status : ok, review, commune_only, not_found, no_address)", soft_wrap=True)
        out.print(f"{count_fr(len(result), 'ligne écrite', 'lignes écrites')} dans {output}", soft_wrap=True)

    guard(ctx, action)


def print_notice(message: str) -> None:
    """Print the one-line hint of a geocoder fallback (on stderr, with the other notes)."""
    from rich.markup import escape

    console.print(f"[bold]note :[/] {escape(message)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``geocoder setup|index|serve`` and ``geocode`` to the main application."""
    app.add_typer(geocoder_app, name="geocoder")
    app.command("geocode")(geocode)
