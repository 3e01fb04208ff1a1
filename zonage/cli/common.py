"""What every command module shares: the consoles, the data folders, user-error handling, progress.

User errors (:class:`~zonage.errors.ZonageError`) end a command with a one-line message
and exit code 2; with the root option ``--debug`` the traceback is shown instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

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
