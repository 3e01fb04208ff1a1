"""What every command module shares: consoles, data folders, user-error handling, progress, common options.

The options several commands declare alike are declared here once, with one French help each.
User errors (:class:`~zonage.errors.ZonageError`) end a command with a one-line message
and exit code 2; with the root option ``--debug`` the traceback is shown instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from zonage.config import Paths, resolve_paths
from zonage.errors import ZonageError

#: Exit codes (documented in the README): the command did its job / a user or data error /
#: an internal defect of the tool. ``zonage application`` and ``zonage check`` map verdicts to their own.
EXIT_OK, EXIT_USER, EXIT_BUG = 0, 2, 70
#: Exit code of the verdict-bearing commands per verdict (best answer).
VERDICT_EXIT = {"eligible": 0, "needs_review": 3, "not_eligible": 4, "not_applicable": 4}

# -- options shared by several commands ---------------------------------------------------------------
# Each alias carries the option's type, flag names and help; the default stays at the parameter
# (``date: DateOpt = None``). The flag names are documented machine names: never rename one. An option
# whose default or meaning differs in one command stays declared there, for instance ``-o/--output``
# (each command writes a different table, required or with its own default), ``--sep`` of ``geocode``
# and ``simulate-zoning`` (default « , »), ``--region`` of ``access`` and ``map``, ``--date`` of
# ``eligibility`` (a ``date`` column of the rows wins), ``--decimal-comma`` of ``run`` (no ``--sep``).

#: ``--date`` of ``run``, ``check``, ``prioritise`` and ``map``.
DateOpt = Annotated[str | None, typer.Option(
    "--date", help="Date de la question (arrêté de zonage et génération de QPV en vigueur), AAAA-MM-JJ ou "
                   "JJ/MM/AAAA ; par défaut aujourd'hui.")]
#: ``--region`` of the région-wide jobs ``run`` and ``prioritise`` (default ``"44"`` at the parameter).
RegionOpt = Annotated[str, typer.Option("--region", help="Code INSEE de la région (44 Grand Est, 28 Normandie…).")]
#: ``--region`` restricting a table to one région: ``score``, ``export``.
RegionFilterOpt = Annotated[str | None, typer.Option(
    "--region", help="Seulement cette région (code INSEE, ex. 28 Normandie).")]
#: ``--scheme`` of ``eligibility`` and ``check`` (``prioritise`` takes NAME=COUNT: its own).
SchemeOpt = Annotated[list[str] | None, typer.Option(
    "--scheme", help="Dispositif à évaluer, par son identifiant (ex. 400mg_volet2) ; répéter pour plusieurs ; "
                     "par défaut tous.")]
RulesOpt = Annotated[Path | None, typer.Option(
    "--rules", help="Dossier de fichiers TOML de dispositifs, ajoutés à ceux fournis ou les remplaçant "
                    "(même identifiant).")]
DeficitsOpt = Annotated[Path | None, typer.Option(
    "--deficits", help="Table des zones déficitaires par spécialité (colonnes specialite + insee ou departement).")]
#: ``--download`` of ``fetch``, ``build`` and ``run`` (``geocoder setup`` downloads BAN files: its own).
DownloadOpt = Annotated[bool, typer.Option(
    "--download", help="Autoriser le téléchargement des sources manquantes depuis leurs adresses officielles.")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="Fichier TOML de paramètres (fusionné avec les valeurs par défaut).")]
TerritoriesOutOpt = Annotated[Path | None, typer.Option(
    "--territories", help="Écrire aussi la table des territoires dans ce fichier.")]
#: The CSV options of the tables a planner opens in a spreadsheet (default ``";"`` and ``True`` at the parameter).
SepOpt = Annotated[str, typer.Option(
    "--sep", help="Séparateur des CSV (« ; » par défaut : tableur réglé en français).")]
BomOpt = Annotated[bool, typer.Option(
    "--bom/--no-bom", help="Marque BOM UTF-8 en tête des CSV (Excel reconnaît alors les accents) ; par défaut oui.")]
DecimalCommaOpt = Annotated[bool, typer.Option(
    "--decimal-comma/--decimal-point",
    help="Nombres des CSV avec une virgule décimale (2,47), pour un tableur réglé en français (le séparateur "
         "« , » devient alors « ; ») ; par défaut point décimal (2.47), lu tel quel par QGIS, pandas et les "
         "scripts. Les codes (FINESS, INSEE, codes postaux) restent du texte dans les deux cas. Pour Excel, "
         "-o FICHIER.xlsx donne des colonnes typées.")]
RawColumnsOpt = Annotated[bool, typer.Option(
    "--raw-columns", help="Noms de colonnes techniques (anglais) dans les CSV/XLSX au lieu des libellés français "
                          "(correspondance : docs/COLUMNS.md). GeoJSON, GPKG et Parquet gardent toujours les noms "
                          "techniques.")]
#: The geocoder choice: ``--backend`` of ``check`` and ``geocode``. ``eligibility`` names it ``--geocoder``
#: and says how each row is marked: its own.
#: ``--backend`` and ``--geocoder`` are one option (``eligibility`` names it ``--geocoder`` first).
GeocoderOpt = Annotated[str | None, typer.Option(
    "--backend", "--geocoder",
    help="Géocodeur : addok (index local), ban (API nationale : les adresses partent sur Internet) ou commune "
         "(code postal + ville seulement). Par défaut : l'addok local s'il répond, sinon la commune, avec une ligne "
         "d'aide.")]
#: The geocoder's address: ``--url`` and ``--geocoder-url`` alike, in every command that geocodes.
GeocoderUrlOpt = Annotated[str | None, typer.Option(
    "--url", "--geocoder-url",
    help="URL de l'API addok locale (par défaut http://127.0.0.1:7878) ou racine de l'API BAN.")]
CacheOpt = Annotated[bool, typer.Option(
    "--cache/--no-cache", help="Réutiliser (et garder) les réponses addok / BAN déjà reçues, dans le cache du "
                               "dossier de données.")]
#: ``--folder`` of ``geocoder setup | index | serve``.
AddokFolderOpt = Annotated[Path | None, typer.Option(
    "--folder", help="Dossier de travail de l'addok local (par défaut <data>/geocoder/addok, celui que lisent "
                     "les autres commandes).")]

console = Console(stderr=True)
out = Console()


def paths_of(ctx: typer.Context) -> Paths:
    """Data and mirror folders from the root options ``--data`` / ``--mirror`` (or the environment)."""
    params = ctx.find_root().params
    return resolve_paths(params.get("data"), params.get("mirror"))


def fail(exc: ZonageError, debug: bool) -> NoReturn:
    """Stop the command on a user error: one line and exit code 2, or the traceback with ``--debug``."""
    if debug:
        raise exc
    console.print(f"[bold red]erreur :[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2) from None


def fail_in(ctx: typer.Context, exc: ZonageError) -> NoReturn:
    """:func:`fail` with ``--debug`` read from the root options of ``ctx``."""
    fail(exc, bool(ctx.find_root().params.get("debug")))


T = TypeVar("T")


def guard(ctx: typer.Context, action: Callable[[], T]) -> T:
    """Run a command's body; a user error ends it with one line (:func:`fail_in`)."""
    try:
        return action()
    except ZonageError as exc:
        fail_in(ctx, exc)


def progress_bar(label: str) -> Progress:
    """The progress bar of long commands (on stderr, gone when done)."""
    return Progress(SpinnerColumn(), TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)
