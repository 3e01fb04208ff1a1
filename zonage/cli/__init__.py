"""Command line: ``zonage <command>``, one module per command family.

* :mod:`zonage.cli.app`: the typer application, its root options (``--data``, ``--mirror``,
  ``--debug``) and :func:`main`, the one error policy (exit 0 / 2 / 70, see the README);
* :mod:`zonage.cli.common`: consoles, :func:`~zonage.cli.common.paths_of` (the data folders
  from the root options), :func:`~zonage.cli.common.guard` (a user error → one line, exit 2);
* command families, each with a ``register(app)``: :mod:`~zonage.cli.data` (sources, fetch,
  build, info), :mod:`~zonage.cli.eligibility` (eligibility, run, application),
  :mod:`~zonage.cli.check`, :mod:`~zonage.cli.geocode`, :mod:`~zonage.cli.access`,
  :mod:`~zonage.cli.priority` (score, simulate-zoning, prioritise), :mod:`~zonage.cli.maps`
  (map, export).

The commands parse, call the library and print; they compute nothing themselves.
"""

from zonage.cli import access, check, data, eligibility, geocode, maps, priority
from zonage.cli.app import EXIT_BUG, EXIT_OK, EXIT_USER, VERDICT_EXIT, app, main, run

for _family in (data, eligibility, check, geocode, access, priority, maps):
    _family.register(app)

__all__ = ["EXIT_BUG", "EXIT_OK", "EXIT_USER", "VERDICT_EXIT", "app", "main", "run"]
