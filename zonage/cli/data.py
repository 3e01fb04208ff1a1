"""Commands on the data folder: ``zonage sources | fetch | build | info``."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from zonage.cli.common import DownloadOpt, console, guard, out, paths_of
from zonage.config import Paths
from zonage.errors import ZonageError
from zonage.numbers import french_number

#: What ``zonage fetch`` did for a source (:attr:`zonage.sources.fetch.FetchResult.action`), in French.
_ACTIONS_FR = {"up to date": "à jour", "copied from mirror": "copiée du miroir", "downloaded": "téléchargée"}


def sources(ctx: typer.Context) -> None:
    """Liste les jeux de données du catalogue : adresse officielle, licence, millésime."""
    from zonage.sources import CATALOGUE

    for s in CATALOGUE.values():
        out.print(f"[bold]{s.name}[/]{' (facultative)' if s.optional else ''} : {s.title}", soft_wrap=True)
        out.print(f"    millésime : {s.vintage} | licence : {s.licence} | format : {s.fmt}", soft_wrap=True)
        out.print(f"    adresse : {s.url}", soft_wrap=True, highlight=False)


def fetch(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="Sources à récupérer (par défaut : toutes).")] = None,
    download: DownloadOpt = False,
    sha256: Annotated[str | None, typer.Option(help="Empreinte sha256 attendue (une seule source).")] = None,
) -> None:
    """Copie les sources du miroir (ou les télécharge) dans data/raw, empreintes vérifiées."""
    from zonage.sources import CATALOGUE, get_source
    from zonage.sources import fetch as fetch_source

    def action() -> None:
        paths = paths_of(ctx)
        chosen = [get_source(n) for n in names] if names else list(CATALOGUE.values())
        if sha256 and len(chosen) != 1:
            raise ZonageError("--sha256 vaut pour une seule source : en nommer exactement une")
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
                        missing.append(f"{source.name} (facultative) : {exc}")
                        continue
                    raise
                word = _ACTIONS_FR.get(result.action, result.action)
                out.print(f"{word:>20}  {source.name}  {result.sha256[:12]}  {result.path}")
        for line in missing:
            out.print(f"{'absente':>20}  {line}", highlight=False)

    guard(ctx, action)


def build(
    ctx: typer.Context,
    layers: Annotated[list[str] | None, typer.Argument(help="Couches à construire (par défaut : toutes).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Reconstruire même si les entrées n'ont pas changé.")
                     ] = False,
    download: DownloadOpt = False,
) -> None:
    """Récupère les sources manquantes et construit les couches (GeoParquet), puis en affiche le bilan."""
    from zonage.layers import all_specs
    from zonage.layers.pipeline import build as build_layers

    def action() -> None:
        paths = paths_of(ctx)
        specs = all_specs()
        start = time.perf_counter()
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("construction", total=len(layers or specs))

            def step(name: str) -> None:
                progress.update(task, description=f"couche {name}", advance=1)

            statuses = build_layers(specs, paths, only=layers, force=force, download=download, on_step=step,
                                    on_cleanup=lambda c: out.print(c.message(), highlight=False, soft_wrap=True))
        for status in statuses:
            if status.action == "built":
                out.print(f"{status.name:<10} construite en {status.seconds:.1f} s".replace(".", ","))
            else:
                out.print(f"{status.name:<10} inchangée (entrées identiques, rien à faire)")
        out.print(f"terminé en {time.perf_counter() - start:.1f} s".replace(".", ","))
        print_info(paths)

    guard(ctx, action)


def print_info(paths: Paths) -> None:
    """Print each built layer: rows, CRS or kind, vintage and sources."""
    from zonage.layers.pipeline import read_manifest

    manifest = read_manifest(paths)
    if not manifest:
        raise ZonageError(f"aucune couche construite dans {paths.processed} : lancer `zonage build`")
    from zonage.crs import TERRITORY_CRS

    out.print(f"[bold]couches dans {paths.processed}[/]", soft_wrap=True)
    for layer, entry in manifest.items():
        sources = ", ".join(entry.get("sources", {}))
        vintage = entry.get("vintage") or "n.d."
        out.print(f"[bold]{layer}[/] (millésime {vintage} ; sources : {sources})", soft_wrap=True)
        for name, summary in entry["outputs"].items():
            if summary.get("territories"):
                where = ", ".join(f"{t} {french_number(n, 0)} ({TERRITORY_CRS[t]})"
                                  for t, n in summary["territories"].items())
                kind = f"GeoParquet par territoire : {where}"
            elif summary.get("crs") == "arrays (npz)":
                kind = f"tableaux (npz, {french_number(summary.get('bytes', 0) / 1e6, 1)} Mo)"
            else:
                kind = "table (Parquet)"
            out.print(f"    {name} : {french_number(summary['rows'], 0)} lignes ; {kind}", soft_wrap=True,
                      highlight=False)


def info(
    ctx: typer.Context,
    layer: Annotated[str | None, typer.Argument(help="Afficher le rapport complet de cette couche (JSON).")] = None,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Vérifier chaque fichier des couches d'après le manifeste de construction (taille et "
                         "empreinte).")] = False,
    full: Annotated[bool, typer.Option("--full", help="Avec --verify : recalculer le sha256 de chaque fichier.")
                    ] = False,
) -> None:
    """Bilan des couches (lignes, projection, millésime, sources) ou rapport d'une couche ; --verify les contrôle."""
    from zonage.layers.pipeline import read_manifest

    def action() -> None:
        paths = paths_of(ctx)
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
            print_info(paths)
            return
        manifest = read_manifest(paths)
        if layer not in manifest:
            built = ", ".join(manifest) or "aucune"
            raise ZonageError(f"couche {layer!r} non construite ; couches construites : {built}")
        out.print_json(json.dumps(manifest[layer], ensure_ascii=False, default=str))

    guard(ctx, action)


def register(app: typer.Typer) -> None:
    """Add the sources, fetch, build, info commands to ``app``."""
    app.command()(sources)
    app.command()(fetch)
    app.command()(build)
    app.command()(info)
