"""Command ``zonage check``: one address (or point) → commune, QPV, zoning class and each scheme's verdict.

Registered on the main typer app by :func:`register` (``register(app)`` in :mod:`zonage.cli`).
It only parses arguments, calls :func:`zonage.studies.check.check` and prints
:func:`zonage.reports.check_lines`.

Exit codes (as ``zonage application``): 0 eligible to at least one scheme asked, 3 none
eligible but at least one "à vérifier", 4 not eligible (or not applicable) to every scheme
asked; 2 a user error (address not found, point outside France, unknown scheme or type…).
"""

from __future__ import annotations

from typing import Annotated

import typer

from zonage.cli.common import (
    CacheOpt,
    DateOpt,
    GeocoderOpt,
    GeocoderUrlOpt,
    RulesOpt,
    SchemeOpt,
    fail_in,
    out,
    paths_of,
)
from zonage.errors import ZonageError


def register(app: typer.Typer) -> None:
    """Add the ``check`` command to ``app``."""

    @app.command("check")
    def check_command(
        ctx: typer.Context,
        address: Annotated[str | None, typer.Argument(
            help="Adresse postale sur une ligne, par exemple \"12 rue Serpenoise 57000 Metz\".")] = None,
        kind: Annotated[str | None, typer.Option(
            "--type", help="Type de structure en mots courants : MSP, \"centre de santé dentaire\", CH, une "
                           "catégorie FINESS…")] = None,
        scheme: SchemeOpt = None,
        date: DateOpt = None,
        lonlat: Annotated[str | None, typer.Option(
            help="Le point en longitude,latitude, en degrés (ex. 6.17,49.12) : pas de géocodage.")] = None,
        backend: GeocoderOpt = None,
        url: GeocoderUrlOpt = None,
        rules: RulesOpt = None,
        cache: CacheOpt = True,
    ) -> None:
        """Cette adresse est-elle éligible, et pourquoi ? Commune, QPV, zonage, puis le verdict de chaque dispositif.

        Code de sortie : 0 éligible à au moins un des dispositifs demandés, 3 à vérifier, 4 non éligible (ou non
        applicable) à tous, 2 erreur de saisie (adresse introuvable, point hors de France, dispositif inconnu…).
        """
        import pyarrow

        from zonage.reports import check_lines
        from zonage.rules.coerce import parse_date
        from zonage.studies.check import check, parse_lonlat

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
