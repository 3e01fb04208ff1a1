"""Territory priority: multi-criteria scoring and simulation of the doctors' zoning (issue 6).

* :mod:`~zonage.priority.config` — parameters (weights, thresholds, caps, margin) from
  ``config/default.toml`` plus a planner's file, validated;
* :mod:`~zonage.priority.scoring` — inputs per commune, indicators per territory
  (commune, BV2012, EPCI, département) and the score with its components;
* :mod:`~zonage.priority.simulation` — the 2017–2024 zoning method and its comparison
  with the official zoning.

Engines return DataFrames and write no file; the command line (``zonage score``,
``zonage simulate-zoning``) writes them.
"""

from __future__ import annotations

from zonage.priority.config import (
    CRITERIA,
    Criterion,
    PriorityConfig,
    PriorityConfigError,
    ScoringConfig,
    SimulationConfig,
    default_config_path,
    load_config,
)
from zonage.priority.scoring import (
    LEVELS,
    Scores,
    TerritoryInputs,
    aggregate_territories,
    build_inputs,
    score_territories,
    territories_scores,
)
from zonage.priority.simulation import (
    Comparison,
    Simulation,
    compare_zoning,
    confusion_matrix,
    simulate_zoning,
)

__all__ = [
    "CRITERIA",
    "LEVELS",
    "Comparison",
    "Criterion",
    "PriorityConfig",
    "PriorityConfigError",
    "Scores",
    "ScoringConfig",
    "Simulation",
    "SimulationConfig",
    "TerritoryInputs",
    "aggregate_territories",
    "build_inputs",
    "compare_zoning",
    "confusion_matrix",
    "default_config_path",
    "load_config",
    "score_territories",
    "simulate_zoning",
    "territories_scores",
]
