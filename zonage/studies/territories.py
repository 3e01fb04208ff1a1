"""Territory studies: the inputs of the scores and of the zoning simulation, read from the layers.

The engines (:mod:`zonage.priority.scoring`, :mod:`zonage.priority.simulation`) take
DataFrames; these functions read them from a data folder.
"""

from __future__ import annotations

import pandas as pd

from zonage.config import Paths
from zonage.priority.config import PriorityConfig
from zonage.priority.scoring import TerritoryInputs, build_inputs

__all__ = ["load_inputs", "load_official"]


def load_inputs(
    paths: Paths,
    config: PriorityConfig,
    *,
    arrondissements: bool | None = None,
    qpv_population: pd.DataFrame | None = None,
) -> TerritoryInputs:
    """Read the layers (communes, apl_communes, gp_supply, qpv_communes, zoning_qpv) and build the inputs.

    Parameters
    ----------
    paths
        Data folders with the layers built.
    config
        Parameters (APL year, column and weight; ``simulation.arrondissements``).
    arrondissements
        Override ``config.simulation.arrondissements``.
    qpv_population
        Optional ``code_qp, population`` table.

    Returns
    -------
    TerritoryInputs
    """
    from zonage.layers.store import read_layer

    columns = ["insee", "nom", "departement", "departement_nom", "region", "region_nom", "population", "bv2012",
               "epci_siren", "epci_nom", "territory"]
    communes = pd.DataFrame(read_layer(paths, "communes", columns=columns).drop(columns="geometry"))
    apl = read_layer(paths, "apl_communes")
    gp = read_layer(paths, "gp_supply", columns=["insee", "gp_count"])
    qpv_communes = read_layer(paths, "qpv_communes", columns=["code_qp", "insee_com"])
    qpv_classes = read_layer(paths, "zoning_qpv", columns=["code_qp", "classe", "insee_com"])
    return build_inputs(
        communes, apl, year=config.apl_year, apl_column=config.apl_column, apl_weight=config.apl_weight,
        gp_supply=gp, qpv_communes=qpv_communes, qpv_classes=qpv_classes, qpv_population=qpv_population,
        arrondissements=config.simulation.arrondissements if arrondissements is None else arrondissements,
    )


def load_official(paths: Paths) -> pd.DataFrame:
    """The official commune zoning (``zoning_communes`` layer): ``code, insee, classe``."""
    from zonage.layers.store import read_layer

    return read_layer(paths, "zoning_communes", columns=["code", "insee", "insee_arm", "classe", "region"])
