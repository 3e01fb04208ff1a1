"""zonage: eligibility of health structures for ARS doctor-post schemes.

Data flows one way: ``sources`` (official files, fetched from the web or a
mirror) → ``layers`` (harmonised GeoParquet in ``data/processed``) → engines →
outputs, with :mod:`zonage.cli` on top.

The public API is :class:`Workspace` (a data folder and the tasks that run on it)::

    from zonage import Workspace

    ws = Workspace("data", mirror="../shared/data")
    result = ws.assess("structures.csv", on="2025-03-01")   # eligibility, one row per input row
    verdict = ws.check_application("application.yaml")       # one application, every condition
    plan = ws.prioritise("44", 40, on="2025-03-01")           # where 40 posts help most
    ws.save_map(ws.map("44", result.rows), "maps/region_44.html")
"""

from zonage.workspace import Workspace

__all__ = ["Workspace", "__version__"]
__version__ = "0.1.0"
