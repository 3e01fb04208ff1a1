"""What every command module shares: the consoles, the data folders, user-error handling.

User errors (:class:`~zonage.errors.ZonageError`) end a command with a one-line message
and exit code 2; with the root option ``--debug`` the traceback is shown instead.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from zonage.config import Paths, resolve_paths
from zonage.errors import ZonageError

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
