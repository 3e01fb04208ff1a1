"""Harmonised layers built from the sources into ``data/processed``.

Each module here defines ``SPEC`` (a :class:`~zonage.layers.pipeline.LayerSpec`);
:func:`all_specs` lists them in dependency order.
"""

from __future__ import annotations

import importlib

from zonage.layers.pipeline import LayerSpec

#: Layer modules in dependency order.
LAYER_MODULES: tuple[str, ...] = (
    "communes", "crosswalk", "zoning", "qpv", "locate_index", "apl", "finess", "gp_supply",
)


def all_specs() -> list[LayerSpec]:
    """Every layer spec, in build order."""
    return [importlib.import_module(f"zonage.layers.{name}").SPEC for name in LAYER_MODULES]
