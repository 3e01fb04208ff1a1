"""Command ``zonage check``: one address (or point) → commune, QPV, zoning class and each scheme's verdict.

Registered on the main typer app by :func:`register` (``register(app)`` in :mod:`zonage.cli`).
It only parses arguments, calls :func:`zonage.check.check` and prints
:func:`zonage.check.check_lines`.

Exit codes (as ``zonage application``): 0 eligible to at least one scheme asked, 3 none
eligible but at least one "à vérifier", 4 not eligible (or not applicable) to every scheme
asked; 2 a user error (address not found, point outside France, unknown scheme or type…).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zonage.cli.common import fail_in, out, paths_of
from zonage.errors import ZonageError


def register(app: typer.Typer) -> None:
    """Add the ``check`` command to ``app``."""

    @app.command("check")
    def check_command(
        ctx: typer.Context,
        address: Annotated[str | None, typer.Argument(
            help="Postal address on one line, e.g. \"12 rue Serpenoise 57000 Metz\".")] = None,
        kind: Annotated[str | None, typer.Option(
            "--type", help="Kind of structure in everyday words: MSP, \"centre de santé dentaire\", CH, a FINESS "
                           "category…")] = None,
        scheme: Annotated[list[str] | None, typer.Option(
            help="Scheme id to assess (repeat; default: all), e.g. 400mg_volet2.")] = None,
        date: Annotated[str | None, typer.Option(
            help="Date of the question (zoning order and QPV generation in force), YYYY-MM-DD; default today.")
        ] = None,
        lonlat: Annotated[str | None, typer.Option(
            help="The point as longitude,latitude in degrees (e.g. 6.17,49.12): no geocoding.")] = None,
        backend: Annotated[str | None, typer.Option(
            help="Geocoder: addok (local), ban (national API: the address is sent over the Internet) or commune "
                 "(postcode + town); default: the local addok if it answers, else commune.")] = None,
        url: Annotated[str | None, typer.Option(
            help="URL of the addok API (default http://127.0.0.1:7878) or root of the BAN API.")] = None,
        rules: Annotated[Path | None, typer.Option(help="Folder of extra or overriding scheme TOML files.")] = None,
        cache: Annotated[bool, typer.Option(
            "--cache/--no-cache", help="Reuse (and keep) addok / BAN answers in the data folder's cache.")] = True,
    ) -> None:
        """Is this address eligible, and why? Commune, QPV, zoning class, then each scheme's verdict (in French).

        Exit code: 0 eligible to at least one scheme asked, 3 to check, 4 not eligible, 2 user error.
        """
        import pyarrow

        from zonage.check import check, check_lines, parse_lonlat
        from zonage.rules.coerce import parse_date

        # One short process reading a few row groups: the system allocator returns what it frees, where
        # the default pool (mimalloc) keeps tens of MB reserved (peak RSS ~260 MB instead of ~310 MB).
        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
        try:
            point = parse_lonlat(lonlat) if lonlat is not None else None
            if address is None and point is None:
                raise ZonageError("donner une adresse, par exemple zonage check \"12 rue Serpenoise 57000 Metz\", "
                                  "ou un point avec --lonlat 6.17,49.12")
            result = check(paths_of(ctx), address, lonlat=point, kind=kind, schemes=scheme,
                           on=parse_date(date, "--date"), backend=backend, url=url, rules=rules, cache=cache)
        except ZonageError as exc:
            fail_in(ctx, exc)
        for line in check_lines(result):
            out.print(line, soft_wrap=True, highlight=False, markup=False)
        raise typer.Exit(result.exit_code)
