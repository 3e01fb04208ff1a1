"""The ``zonage`` typer application, its root options and the one error policy of :func:`main`.

Command modules (``zonage.cli.data``, ``eligibility``, ``geocode``, ``access``, ``priority``,
``maps``, ``check``) register their commands on :data:`app`; :mod:`zonage.cli` imports
them all. Every command reads the data folders with :func:`zonage.cli.common.paths_of` and
ends a user error with :func:`zonage.cli.common.guard` / ``fail_in``: one way for all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from zonage.cli.common import EXIT_BUG, EXIT_OK, EXIT_USER, VERDICT_EXIT, console
from zonage.errors import ZonageError

__all__ = ["EXIT_BUG", "EXIT_OK", "EXIT_USER", "VERDICT_EXIT", "app", "main", "root", "run"]

#: Libraries of the optional extras (``pip install 'zonage[maps]'``…): a command that needs one
#: that is missing stops with the install command.
OPTIONAL_MODULES = {"folium": "maps", "branca": "maps", "matplotlib": "maps", "addok": "geocode"}

app = typer.Typer(
    help="Eligibility of health structures for ARS doctor-post schemes: data pipeline and tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    data: Annotated[
        Path | None, typer.Option(help="Folder holding raw/ and processed/ (default $ZONAGE_DATA or ./data).")
    ] = None,
    mirror: Annotated[
        Path | None, typer.Option(help="Mirror folder of the official files (default $ZONAGE_MIRROR).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Zonage: sources → layers → eligibility, accessibility, maps."""
    # the options are read back from the context by every command (zonage.cli.common.paths_of)





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
        from rich.markup import escape

        console.print(f"[bold red]erreur :[/] cette commande a besoin de {exc.name}, qui n'est pas installé : "
                      + escape(f"pip install 'zonage[{extra}]'"), highlight=False, soft_wrap=True)
        return EXIT_USER
    except (OSError, CRSError, UnicodeError) as exc:
        if debug:
            raise
        where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        console.print(f"[bold red]erreur :[/] {detail}{where}", highlight=False, soft_wrap=True)
        return EXIT_USER
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # a usage error of the command line parser
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
