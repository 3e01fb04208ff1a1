"""The ``zonage`` typer application, its root options and the one error policy of :func:`main`.

Command modules (``zonage.cli.data``, ``eligibility``, ``geocode``, ``access``, ``priority``,
``maps``, ``check``) register their commands on :data:`app`; :mod:`zonage.cli` imports
them all. Every command reads the data folders with :func:`zonage.cli.common.paths_of` and
ends a user error with :func:`zonage.cli.common.guard` / ``fail_in``: one way for all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from zonage.cli.common import EXIT_BUG, EXIT_OK, EXIT_USER, VERDICT_EXIT, console
from zonage.errors import ZonageError

__all__ = ["EXIT_BUG", "EXIT_OK", "EXIT_USER", "VERDICT_EXIT", "app", "main", "root", "run"]

#: Libraries of the optional extras (``pip install 'zonage[maps]'``…): a command that needs one
#: that is missing stops with the install command.
OPTIONAL_MODULES = {"folium": "maps", "branca": "maps", "matplotlib": "maps", "addok": "geocode"}

app = typer.Typer(
    help="Éligibilité des structures de santé aux dispositifs de postes de médecins des ARS : données, zonage, "
         "éligibilité, accessibilité (APL), cartes.\n\n"
         "Codes de sortie : 0 commande menée à bien, 2 erreur de saisie ou de données (un message d'une ligne), "
         "70 défaut interne de l'outil (détail dans un journal) ; « check » et « application » : 0 éligible, "
         "3 à vérifier, 4 non éligible.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    data: Annotated[
        Path | None, typer.Option(
            help="Dossier des données, avec raw/ et processed/ (par défaut $ZONAGE_DATA ou ./data).")
    ] = None,
    mirror: Annotated[
        Path | None, typer.Option(help="Dossier miroir des fichiers officiels (par défaut $ZONAGE_MIRROR).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Afficher la trace complète (traceback) des erreurs.")] = False,
) -> None:
    """Zonage : sources → couches → éligibilité, accessibilité, cartes."""
    # the options are read back from the context by every command (zonage.cli.common.paths_of)





def _quoted(value: str) -> str:
    return f"« {value.strip(chr(39))} »"


def _param_hint(exc: Any) -> str:
    """The option or argument a click error is about (``--region``, ``input_file``), as click names it."""
    hint = getattr(exc, "param_hint", None)
    if isinstance(hint, list | tuple):
        return " / ".join(str(h) for h in hint)
    if hint:
        return str(hint)
    param, ctx = getattr(exc, "param", None), getattr(exc, "ctx", None)
    if param is None:
        return ""
    for call in ((lambda: param.get_error_hint(ctx)), (lambda: param.get_error_hint())):
        try:
            return str(call()).replace("'", "")
        except TypeError:  # typer's parameters take no context, click's take one
            continue
    return str(param.name)


#: Click's English messages of a bad value, in French (the value is the first group).
_BAD_VALUES_FR: tuple[tuple[str, str], ...] = (
    (r"'(.*)' is not a valid integer( range)?\.?", "{0} n'est pas un nombre entier"),
    (r"'(.*)' is not a valid float( range)?\.?", "{0} n'est pas un nombre"),
    (r"'(.*)' is not a valid boolean.*", "{0} n'est pas oui ou non (true/false)"),
    (r"'(.*)' is not one of (.*)\.", "{0} n'est pas une valeur permise (choisir parmi {1})"),
    (r"'(.*)' is not (.*)\.", "{0} n'est pas une valeur permise (la seule est {1})"),
    (r"(.*) is not in the range (.*)\.", "{0} est hors de l'intervalle permis {1}"),
    (r"\w+ '(.*)' does not exist\.", "{0} n'existe pas : vérifier le chemin"),
    (r"\w+ '(.*)' is a directory\.", "{0} est un dossier, pas un fichier"),
    (r"\w+ '(.*)' is a file\.", "{0} est un fichier, pas un dossier"),
    (r"\w+ '(.*)' is not readable\.", "{0} : lecture refusée"),
    (r"\w+ '(.*)' is not writable\.", "{0} : écriture refusée"),
)


def _bad_value_fr(message: str) -> str:
    import re

    for pattern, french in _BAD_VALUES_FR:
        match = re.fullmatch(pattern, message.strip(), flags=re.DOTALL)
        if match:
            return french.format(_quoted(match[1]), *(match.groups()[1:] if match.lastindex else ()))
    return message


def _class_names(value: Any) -> set[str]:
    """Names of the classes of ``value`` (click's exceptions exist twice: click's and typer's vendored copy)."""
    return {cls.__name__ for cls in type(value).__mro__}


def is_usage_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a usage error of the command-line parser (click's or typer's copy of it).

    Not the "no arguments" error, whose help has already been printed.
    """
    kinds = _class_names(exc)
    return "UsageError" in kinds and "NoArgsIsHelpError" not in kinds


def _command_of(args: list[str]) -> str:
    """``zonage COMMAND`` from the command line (the root options and their values skipped)."""
    words = iter(args)
    for word in words:
        if word in ("--data", "--mirror"):
            next(words, None)
        elif not word.startswith("-"):
            return f"zonage {word}"
    return "zonage"


def usage_error_fr(exc: Any, args: list[str] | None = None) -> str:
    """A click usage error (unknown option or command, missing or bad value) as one French line.

    Names the option, argument or command, and ends with the ``--help`` to read:
    ``option inconnue --typ ; voir zonage eligibility --help``. ``args`` (the command line)
    names the command when the error does not.
    """
    import re

    kinds = _class_names(exc)
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None and ctx.command_path else _command_of(args or [])
    message = str(getattr(exc, "message", "") or exc)
    if "NoSuchOption" in kinds:
        text = f"option inconnue {exc.option_name}"
        if exc.possibilities:
            text += f" (options proches : {', '.join(sorted(exc.possibilities))})"
    elif "MissingParameter" in kinds:
        hint = _param_hint(exc)
        argument = exc.param_type == "argument" or getattr(exc.param, "param_type_name", "") == "argument"
        kind = "argument manquant" if argument else "option obligatoire manquante"
        text = f"{kind} {hint}".rstrip()
    elif "BadParameter" in kinds:
        hint = _param_hint(exc)
        detail = _bad_value_fr(message)
        cause = exc.__cause__
        if cause is not None and hasattr(cause, "errors"):  # typer converts values with pydantic
            from zonage.application_schema import pydantic_message_fr

            first = cause.errors()[0]
            detail = f"{_quoted(str(first.get('input', '')))} {pydantic_message_fr(first)}"
        text = f"{hint} : {detail}" if hint else f"valeur invalide : {detail}"
    elif "BadOptionUsage" in kinds and "requires an argument" in message:
        text = f"l'option {exc.option_name} attend une valeur"
    elif "BadOptionUsage" in kinds and "does not take a value" in message:
        text = f"l'option {exc.option_name} ne prend pas de valeur"
    elif match := re.fullmatch(r"No such command '(.*)'\.", message):
        text = f"commande inconnue {_quoted(match[1])}"
    elif match := re.fullmatch(r"Got unexpected extra arguments?(?:\(s\))? \((.*)\)\.?", message):
        text = f"argument(s) en trop : {match[1]}"
    elif message.startswith("Missing command"):
        text = "commande manquante"
    else:
        text = f"ligne de commande invalide ({message})"
    return f"{text} ; voir {command} --help"


def _log_crash(text: str) -> Path:
    """Write a traceback to a log file (``$ZONAGE_LOG_DIR`` or ``~/.zonage/logs``) and return its path."""
    import datetime
    import os

    folder = Path(os.environ.get("ZONAGE_LOG_DIR") or Path.home() / ".zonage" / "logs")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"erreur-{stamp}.log"
        path.write_text(text, encoding="utf-8")
    except OSError:
        import tempfile

        path = Path(tempfile.gettempdir()) / f"zonage-erreur-{stamp}.log"
        path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Console entry point: the command, under one error policy.

    Exit 0 when the command did its job (whatever the verdicts), 2 with a one-line message
    for a user or data error (a ZonageError, an unreadable or unwritable file, an unknown
    CRS, a usage error), 70 for an internal defect, whose traceback goes to a log file
    whose path is printed. ``--debug`` shows tracebacks instead.
    """
    import traceback

    import click
    from pyproj.exceptions import CRSError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    from rich.markup import escape

    from zonage.io import os_reason_fr

    exits = (typer.Exit, click.exceptions.Exit)
    aborts = (typer.Abort, click.exceptions.Abort, KeyboardInterrupt)
    try:
        code = app(args=args, prog_name="zonage", standalone_mode=False)
        return int(code or 0) if isinstance(code, int) else EXIT_OK
    except exits as exc:
        return int(exc.exit_code)
    except aborts:
        console.print("interrompu", highlight=False)
        return 130
    except ZonageError as exc:
        if debug:
            raise
        console.print(f"[bold red]erreur :[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_USER
    except ImportError as exc:
        if debug or (exc.name or "").split(".")[0] not in OPTIONAL_MODULES:
            raise
        extra = OPTIONAL_MODULES[(exc.name or "").split(".")[0]]
        console.print(f"[bold red]erreur :[/] cette commande a besoin de {exc.name}, qui n'est pas installé : "
                      + escape(f"pip install 'zonage[{extra}]'"), highlight=False, soft_wrap=True)
        return EXIT_USER
    except (OSError, CRSError, UnicodeError) as exc:
        if debug:
            raise
        first = (str(exc).splitlines() or [""])[0]
        if isinstance(exc, OSError):
            where = f"{exc.filename} : " if exc.filename else ""
            detail = f"{where}{os_reason_fr(exc)} : vérifier le chemin et les droits d'accès"
        elif isinstance(exc, CRSError):
            detail = f"système de coordonnées invalide ({first}) ; exemples : EPSG:2154, EPSG:4326"
        else:
            detail = f"texte mal encodé ({first}) : enregistrer le fichier en UTF-8"
        console.print("[bold red]erreur :[/] " + escape(detail), highlight=False, soft_wrap=True)
        return EXIT_USER
    except Exception as exc:
        if is_usage_error(exc):  # unknown option or command, missing or bad value
            if debug:
                raise
            console.print("[bold red]erreur :[/] " + escape(usage_error_fr(exc, args)), highlight=False, soft_wrap=True)
            return EXIT_USER
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # another error of the command line parser
            exc.show()
            return EXIT_USER
        if debug:
            raise
        path = _log_crash(traceback.format_exc())
        console.print(f"[bold red]erreur interne de zonage[/] (un défaut de l'outil, pas de vos données) ; "
                      f"détail dans {path}", highlight=False, soft_wrap=True)
        return EXIT_BUG


def run() -> None:  # pragma: no cover - console entry point helper
    """Entry point usable as ``python -m zonage``."""
    sys.exit(main())
