"""Command line for geocoding: ``zonage geocoder setup|index|serve`` and ``zonage geocode``.

Registered on the main application by :func:`register`; it only parses arguments,
calls :mod:`zonage.geocode` and prints.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from zonage.cli.common import console, guard, out, paths_of, progress_bar
from zonage.errors import ZonageError

geocoder_app = typer.Typer(
    help="Local addok geocoder (the BAN's own, on this machine): set up a département, index address files, "
         "serve them.",
    no_args_is_help=True,
)


def _folder(ctx: typer.Context, folder: Path | None) -> Path:
    return folder or paths_of(ctx).data / "geocoder" / "addok"


@geocoder_app.command("setup")
def setup(
    ctx: typer.Context,
    departement: Annotated[list[str] | None, typer.Option(
        "--departement", "-d", help="Département to geocode at the address (repeat: -d 57 -d 54).")] = None,
    download: Annotated[bool, typer.Option(
        "--download", help="Download the BAN file of a département not found offline (adresse.data.gouv.fr).")
                        ] = False,
    file: Annotated[list[Path] | None, typer.Option(
        "--file", help="Address file to index instead (BAN adresses-XX.csv[.gz], BAN adresses-addok-XX.ndjson.gz, "
                       "BANO CSV); repeat for several.")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="With --download: download again.")] = False,
    folder: Annotated[Path | None, typer.Option(
        help="Work folder of the local addok (default <data>/geocoder/addok, the one other commands use).")] = None,
    ban_url: Annotated[str, typer.Option(help="URL pattern of the BAN files, {dep} standing for the département.")
                       ] = "https://adresse.data.gouv.fr/data/ban/adresses/latest/addok/adresses-addok-{dep}.ndjson.gz",
    serve_after: Annotated[bool, typer.Option("--serve", help="Then serve the index (as `zonage geocoder serve`).")
                           ] = False,
) -> None:
    """Make street-level geocoding work for départements: find (or download) their BAN file, index it, check it.

    Offline the file comes from --file, a file downloaded before, or the mirror's addresses/ folder; a
    re-run with the same files does nothing ("déjà indexé").
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
        help="BAN (adresses-XX.csv, adresses-addok-XX.ndjson.gz) or BANO address files.")],
    folder: Annotated[Path | None, typer.Option(help="Work folder of the local addok (default <data>/geocoder/addok).")
                      ] = None,
    append: Annotated[bool, typer.Option("--append", help="Add to the existing index instead of replacing it.")
                      ] = False,
) -> None:
    """Load address files into the local addok (starts a private Redis for the time of the import)."""
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
                out.print(f"cleared {cleared:,} cached addok answers (the index changed)")
        out.print(
            f"indexed {report.addresses:,} addresses ({report.streets:,} streets, {report.localities:,} named places, "
            f"{report.municipalities:,} communes) in {report.seconds:.1f} s into {work}", soft_wrap=True)

    guard(ctx, action)


@geocoder_app.command("serve")
def serve(
    ctx: typer.Context,
    folder: Annotated[Path | None, typer.Option(help="Work folder of the local addok (default <data>/geocoder/addok).")
                      ] = None,
    port: Annotated[int, typer.Option(help="HTTP port of the API on 127.0.0.1.")] = 7878,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
) -> None:
    """Serve the indexed addresses: Redis + addok HTTP API (/search) until Ctrl-C."""
    guard(ctx, lambda: _serve_folder(_folder(ctx, folder), port, host))


def _serve_folder(work: Path, port: int, host: str) -> None:
    """Redis + addok HTTP API on the index of ``work`` until Ctrl-C or SIGTERM."""
    from zonage.geocode.addok import AddokServer, RedisServer, write_config

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if not (work / "addok.rdb").exists():
        raise ZonageError(f"no index in {work}: run `zonage geocoder setup --departement NN` (or "
                          "`zonage geocoder index FILE`) first")
    redis = RedisServer(work)
    server = None
    previous = signal.signal(signal.SIGTERM, interrupt)  # `kill` stops the children too
    try:
        redis.start()
        write_config(work / "addok.conf", redis_port=redis.port)
        server = AddokServer(work / "addok.conf", port=port, host=host).start()
        out.print(f"addok serving on {server.url} (Redis on 127.0.0.1:{redis.port}); Ctrl-C to stop",
                  soft_wrap=True)
        out.print(f"use it with: zonage geocode INPUT -o OUTPUT --backend addok --url {server.url}",
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
    input_file: Annotated[Path, typer.Argument(help="CSV/XLSX/GeoJSON/GPKG/Parquet with address columns.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Result: .csv, .parquet, .geojson or .gpkg.")],
    backend: Annotated[str | None, typer.Option(
        help="addok (local), ban (national API: addresses sent over the Internet) or commune (postcode + town "
             "only). Default: the local addok, else commune with a hint (every row flagged commune_fallback).")
                       ] = None,
    url: Annotated[str | None, typer.Option(help="addok API URL (default http://127.0.0.1:7878) or BAN API root.")
                   ] = None,
    addok_config: Annotated[Path | None, typer.Option(help="Call the local addok in process with this config "
                                                           "instead of HTTP.")] = None,
    address: Annotated[str | None, typer.Option(help="Street column (default: detected).")] = None,
    postcode: Annotated[str | None, typer.Option(help="Postcode column (default: detected).")] = None,
    commune: Annotated[str | None, typer.Option(help="Town column (default: detected).")] = None,
    low_score: Annotated[float, typer.Option(help="Flag results scoring below this.")] = 0.6,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse answers already received.")] = True,
    sep: Annotated[str, typer.Option(help="CSV output separator.")] = ",",
    bom: Annotated[bool, typer.Option("--bom", help="UTF-8 BOM in CSV output (Excel).")] = False,
) -> None:
    """Geocode the addresses of INPUT: every row comes out once, with point, score, type, label and flags."""
    import geopandas as gpd
    import pandas as pd

    from zonage.crs import WGS84
    from zonage.export import format_of, refuse_same_file, write_table
    from zonage.geocode import address_spec, default_cache_path, geocode_frame
    from zonage.geocode.local import departements_of_frame, open_geocoder
    from zonage.inputs import detect_columns, read_table


    def action() -> None:
        kind = format_of(output)
        refuse_same_file(output, input_file)
        paths = paths_of(ctx)
        frame = read_table(input_file)
        if isinstance(frame, gpd.GeoDataFrame):
            frame = frame.drop(columns=frame.geometry.name)
        spec = address_spec(frame, detect_columns(frame, address=address, postcode=postcode, commune=commune))
        if backend == "ban":
            console.print(f"[bold]note:[/] the addresses are sent to {url or 'the national address API'}",
                              highlight=False, soft_wrap=True)
        departements = departements_of_frame(frame, spec)
        with open_geocoder(paths, backend, url=url, addok_config=addok_config,
                           cache=default_cache_path(paths.data) if cache else None, low_score=low_score,
                           option="--backend", departements=departements, notice=print_notice) as geocoding, \
                progress_bar(f"geocoding ({geocoding.name})") as progress:
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
        out.print(f"{len(frame):,} rows, columns used: {spec.describe()}", soft_wrap=True)
        out.print(", ".join(f"{status}: {int(counts.get(status, 0)):,}"
                                for status in ("ok", "review", "commune_only", "not_found", "no_address")))
        out.print(f"wrote {len(result):,} rows to {output}", soft_wrap=True)

    guard(ctx, action)


def print_notice(message: str) -> None:
    """Print the one-line hint of a geocoder fallback (on stderr, with the other notes)."""
    from rich.markup import escape

    console.print(f"[bold]note :[/] {escape(message)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``geocoder setup|index|serve`` and ``geocode`` to the main application."""
    app.add_typer(geocoder_app, name="geocoder")
    app.command("geocode")(geocode)
