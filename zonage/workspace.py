"""The public entry point for notebooks and scripts: one object that knows the data folder.

>>> from zonage import Workspace
>>> ws = Workspace("data", mirror="../shared/data")     # builds what is missing on first use
>>> result = ws.assess("structures.csv", on="2025-03-01")  # doctest: +SKIP
>>> result.rows[["nom", "statut_mg", "resume"]]           # doctest: +SKIP

The five main tasks, each a line or two:

* **eligibility of a list** — :meth:`Workspace.assess` (file or DataFrame → one row per input row);
* **one application** — :meth:`Workspace.check_application` (YAML/JSON file or mapping);
* **accessibility** — :meth:`Workspace.access` (2SFCA family per commune, and aggregates);
* **where to fund posts** — :meth:`Workspace.prioritise`;
* **maps and exports** — :meth:`Workspace.map`, :meth:`Workspace.save_map`, :meth:`Workspace.export`.

Layers are read with :meth:`Workspace.layer` (filtered by région or département). The
locator, the FINESS table and the COG crosswalk are read once and kept.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from zonage.config import Paths, resolve_paths

__all__ = ["Workspace"]


def _day(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    from zonage.rules.coerce import parse_date

    return parse_date(value, "on")


class Workspace:
    """A data folder (``data/raw``, ``data/processed``) and the tasks that run on it.

    Parameters
    ----------
    data
        Data folder (default ``$ZONAGE_DATA`` or ``./data``).
    mirror
        Mirror folder of the official files (default ``$ZONAGE_MIRROR``); the layers are
        built from it (or downloaded, with ``download=True``) when missing.
    download
        Allow downloads from the official URLs when a source is missing.
    build
        Build the missing layers on first use (``False``: raise instead).
    """

    def __init__(self, data: str | Path | None = None, *, mirror: str | Path | None = None,
                 download: bool = False, build: bool = True) -> None:
        self.paths: Paths = resolve_paths(Path(data) if data is not None else None,
                                          Path(mirror) if mirror is not None else None)
        self.download = download
        self.auto_build = build
        self._ready = False

    def __repr__(self) -> str:
        return f"Workspace(data={str(self.paths.data)!r}, mirror={str(self.paths.mirror)!r})"

    # -- layers -----------------------------------------------------------------------------
    def build(self, *layers: str, force: bool = False) -> list[Any]:
        """Fetch what is missing and build the layers (nothing to do when inputs are unchanged)."""
        from zonage.layers import all_specs
        from zonage.layers.pipeline import build

        statuses = build(all_specs(), self.paths, only=list(layers) or None, force=force, download=self.download)
        self._ready = True
        return statuses

    def _ensure(self) -> None:
        if not self._ready and self.auto_build:
            self.build()
        self._ready = True

    def vintages(self) -> pd.DataFrame:
        """What each layer was built from: ``couche``, ``millesime`` (vintage), ``sources``, ``lignes``."""
        from zonage.layers.pipeline import read_manifest

        self._ensure()
        rows = []
        for layer, entry in read_manifest(self.paths).items():
            outputs = entry.get("outputs", {})
            rows.append({"couche": layer, "millesime": entry.get("vintage") or "",
                         "sources": ", ".join(entry.get("sources", {})),
                         "lignes": sum(int(o.get("rows", 0)) for o in outputs.values())})
        return pd.DataFrame(rows)

    @staticmethod
    def write(table: pd.DataFrame, path: str | Path, **options: Any) -> Path:
        """Write a result table atomically; the format follows the extension.

        CSV (``;`` and a BOM by default, for a French spreadsheet), XLSX, GeoJSON, GeoPackage
        or Parquet (:func:`zonage.export.write_table`, whose options ``options`` are).
        """
        from zonage.export import write_table

        path = Path(path)
        if path.suffix.lower() == ".csv":
            options = {"sep": ";", "bom": True, **options}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_table(table, path, **options)
        return path

    @staticmethod
    def show(fmap: Any, height: int = 600) -> Any:
        """A map for a notebook cell, self-contained (Leaflet inlined: works offline)."""
        import html
        import warnings

        from IPython.display import HTML  # installed with Jupyter

        from zonage.maps.folium_map import html_of

        page = html.escape(html_of(fmap), quote=True)
        with warnings.catch_warnings():  # IPython suggests IFrame, which needs a URL: srcdoc is the point here
            warnings.simplefilter("ignore", UserWarning)
            return HTML(f'<iframe srcdoc="{page}" style="width:100%;height:{height}px;border:none"></iframe>')

    def layer(self, name: str, *, region: str | None = None, departement: str | None = None,
              crs: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """A processed layer, optionally only one région's or département's rows (INSEE codes)."""
        from zonage.layers.store import read_layer
        from zonage.maps.gis import _filter

        self._ensure()
        frame = read_layer(self.paths, name, crs=crs, columns=columns)
        return _filter(frame, region, departement)

    @functools.cached_property
    def schemes(self) -> Mapping[str, Any]:
        """The packaged schemes (:func:`zonage.rules.load_schemes`)."""
        from zonage.rules import load_schemes

        return load_schemes()

    @functools.cached_property
    def _context(self) -> dict[str, Any]:
        from zonage.studies.eligibility import batch_context

        self._ensure()
        return batch_context(self.paths)

    # -- tasks ------------------------------------------------------------------------------
    def assess(self, table: str | Path | pd.DataFrame, *, on: date | str | None = None,
               geocoder: str | None = None, speciality: str | None = None,
               deficits: str | Path | pd.DataFrame | None = None, notice: Any = print, **options: Any) -> Any:
        """Eligibility of every row of a file or DataFrame (:func:`zonage.eligibility.assess`).

        Rows given by address (no coordinates, no FINESS number) are geocoded as ``zonage
        eligibility`` does: the local addok when set up (``zonage geocoder setup``), else the
        postcode and town (``commune``, each row flagged ``commune_fallback``) with a one-line
        hint passed to ``notice``. ``geocoder``: ``addok``, ``ban`` (national API: the addresses
        leave the machine) or ``commune`` to choose. ``deficits``: deficit zones per speciality (ASTP).
        """
        from zonage.eligibility import assess
        from zonage.geocode import address_spec, check_locatable, default_cache_path
        from zonage.inputs import detect_columns, read_table
        from zonage.studies.geocoding import batch_geocoding

        frame = read_table(table) if not isinstance(table, pd.DataFrame) else table
        column_options = {k: options.pop(k) for k in ("lon", "lat", "x", "y", "id", "finess") if k in options}
        spec = options.pop("spec", None) or address_spec(frame, detect_columns(frame, **column_options))
        check_locatable(frame, spec, table.name if isinstance(table, Path) else "la table")
        table_of_deficits = None
        if deficits is not None:
            from zonage.rules.deficits import read_deficits

            table_of_deficits = read_deficits(deficits)
        context = self._context
        with batch_geocoding(self.paths, frame, spec, geocoder, cache=default_cache_path(self.paths.data),
                             option="geocoder", notice=notice) as geocoding:
            return assess(frame, context["locator"], self.schemes, spec=spec, finess=context["finess"],
                          crosswalk=context["crosswalk"], on=_day(on), geocoder=geocoding, speciality=speciality,
                          deficits=table_of_deficits, **options)

    def region_structures(self, region: str, *, on: date | str | None = None) -> Any:
        """Eligibility of the région's FINESS centres de santé, MSP and hospitals (the ``zonage run`` batch)."""
        from zonage.studies.eligibility import region_structures

        self._ensure()
        return self.assess(region_structures(self.paths, region), on=on)

    def check(self, address: str | None = None, *, lonlat: tuple[float, float] | str | None = None,
              kind: str | None = None, on: date | str | None = None, backend: str | None = None,
              schemes: list[str] | None = None) -> Any:
        """One address or point: commune, QPV, class and each scheme's verdict (``zonage check``).

        Returns a :class:`zonage.studies.check.CheckResult` (``.row``, ``.statuses()``);
        :func:`zonage.reports.check_lines` gives its French text. Geocoding stays on the
        machine (local addok, else the commune) unless ``backend="ban"``.
        """
        from zonage.studies.check import check, parse_lonlat

        self._ensure()
        if isinstance(lonlat, str):  # "6.17,49.12", as the command line takes it
            lonlat = parse_lonlat(lonlat)
        return check(self.paths, address, lonlat=lonlat, kind=kind, on=_day(on), backend=backend,
                     schemes=schemes)

    def check_application(self, application: str | Path | Mapping[str, Any], *,
                          deficits: pd.DataFrame | None = None) -> Any:
        """Verdict on one application (file or mapping): every condition met, failed or to check."""
        from zonage.application_schema import validate_application
        from zonage.applications import locate_structures, read_application
        from zonage.rules import check_application

        data = read_application(application) if not isinstance(application, Mapping) else \
            validate_application(dict(application))
        context = self._context
        located = locate_structures(data, context["locator"], context["finess"])
        return check_application(located, self.schemes, deficits=deficits)

    def access(self, *, region: str | None = None, **options: Any) -> Any:
        """Accessibility of every commune (2SFCA family, :func:`zonage.studies.access.commune_accessibility`).

        With ``region``, the communes table of the result is cut to that région.
        """
        from zonage.studies.access import commune_accessibility

        self._ensure()
        run = commune_accessibility(self.paths, **options)
        if region is not None:
            run.communes = run.communes[run.communes["region"].astype(str) == str(region)].reset_index(drop=True)
        return run

    def prioritise(self, region: str, posts: int | Mapping[str, int], *, on: date | str | None = None,
                   candidates: Any = None, out_of_model: bool = False, **config: Any) -> Any:
        """Where ``posts`` posts help most (:func:`zonage.studies.prioritisation.prioritise`).

        ``config``: keys of the ``[allocation]`` table (``objective``, ``max_per_structure``…).
        """
        from zonage.priority import load_config
        from zonage.studies.prioritisation import prioritise

        self._ensure()
        params = load_config(overrides={"allocation": config} if config else None)
        return prioritise(self.paths, region, posts, candidates=candidates, config=params, on=_day(on),
                          evaluate_out_of_model=out_of_model)

    def map(self, region: str | None = None, rows: Any = None, **options: Any) -> Any:
        """The folium map of a région (or of France with ``region=None``), to show or :meth:`save_map`.

        ``rows``: the structures to draw (a :meth:`assess` result's ``rows``); by default the
        région's FINESS centres de santé, MSP and hospitals, assessed today.
        """
        from zonage.maps import national_map_html, region_map

        self._ensure()
        if region is None:
            return national_map_html(self.paths, **options)
        if rows is None and "structures" in options.get("layers", ("structures",)):
            rows = self.region_structures(str(region)).rows  # the engine answers, the map draws
        return region_map(self.paths, str(region), rows, **options)

    @staticmethod
    def save_map(fmap: Any, path: str | Path, *, cdn: bool = False) -> Path:
        """Write a map to an HTML file (self-contained unless ``cdn``)."""
        from zonage.maps.folium_map import save_map

        return save_map(fmap, path, cdn=cdn)

    def export(self, layer: str, output: str | Path, *, region: str | None = None, departement: str | None = None,
               **options: Any) -> list[Path]:
        """Export a layer (``zoning``: with commune polygons and a QGIS style) for QGIS or a spreadsheet."""
        from zonage.maps.gis import export_layer, export_zoning

        self._ensure()
        if layer == "zoning":
            return export_zoning(self.paths, output, region=region, departement=departement, **options)
        return [export_layer(self.paths, layer, output, region=region, departement=departement, **options)]
