"""Parameters of territory scoring and zoning simulation, read from TOML and validated.

The packaged defaults are ``zonage/priority/config/default.toml`` (every key is
documented there). A planner's file holds only what it changes: it is deep-merged on
top of the defaults (tables merge, values and arrays replace), then everything is
checked: unknown keys, wrong types, weights < 0, thresholds out of order, caps outside
0–1, unknown choices. Any problem raises :class:`PriorityConfigError` naming the file,
the key path (``simulation.caps.regions.44``) and what is wrong.

File layout::

    [data]        apl_year, apl_column (apl_65 | apl), apl_weight (pop_std | population)
    [scoring]     normalisation (rank | minmax), gap_threshold, consultations_per_gp, density_per,
                  min_coverage
    [scoring.criteria.<name>]  weight, direction (lower | higher)
                  names: apl, gp_density, population, qpv_population, n_qpv, gap
    [simulation]  zip_max, vivier_max, territory (bv2012 | commune), arrondissements,
                  vivier_order (apl_asc), vivier_fill (stop | skip), vivier_rest (ZAC | ZV)
    [simulation.caps]          default (share 0–1), regions = {"44" = 0.25, …}
    [simulation.margin]        enabled, share, order (apl_asc | qpv_first), fill (stop | skip)
    [comparison]  class_map = {ZAR = "HZ", …}
    [allocation]  baseline (engine | drees), threshold, consultations_per_post, consultations_per_gp,
                  demand (pop_std | population), method (e2sfca | 2sfca), decay, cutoff, schemes,
                  statuses, max_per_structure, min_per_departement, budget, territory, naive_apl
    [allocation.costs]         default, schemes = {"400mg_volet2" = 1.5, …}
"""

from __future__ import annotations

import copy
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from zonage.errors import ZonageError

__all__ = [
    "CRITERIA",
    "AllocationConfig",
    "Criterion",
    "PriorityConfig",
    "PriorityConfigError",
    "ScoringConfig",
    "SimulationConfig",
    "default_config_path",
    "load_config",
]

#: Criteria a score may use: name → (unit, description).
CRITERIA: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "apl": ("consultations/year/std inhabitant", "APL, standardised-population-weighted mean of commune APL"),
        "gp_density": ("GPs per 10,000 inhabitants", "general practitioners (BPE D201) per inhabitant"),
        "population": ("inhabitants", "population of the territory"),
        "qpv_population": ("inhabitants", "population living in a QPV (where known)"),
        "n_qpv": ("QPV", "number of QPV (2024) touching the territory"),
        "gap": ("consultations/year", "standardised population × (threshold − APL), territories under the threshold"),
    }
)

_DIRECTIONS = ("lower", "higher")
_NORMALISATIONS = ("rank", "minmax")
_APL_COLUMNS = ("apl_65", "apl")
_APL_WEIGHTS = ("pop_std", "population")
_TERRITORIES = ("bv2012", "commune")
_ORDERS = ("apl_asc",)
_MARGIN_ORDERS = ("apl_asc", "qpv_first")
_FILLS = ("stop", "skip")
_RESTS = ("ZAC", "ZV")
_CLASSES = ("ZIP", "ZAC", "ZAR", "ZV", "HZ", "unknown")
_BASELINES = ("engine", "drees")
_DEMANDS = ("pop_std", "population")
_ALLOCATION_METHODS = ("e2sfca", "2sfca")
_STATUSES = ("eligible", "needs_review", "not_eligible")
_ALLOCATION_TERRITORIES = ("bv2012", "commune", "epci", "departement")


class PriorityConfigError(ZonageError):
    """A scoring/simulation parameter file is malformed; names the file, key path and problem."""


@dataclass(frozen=True)
class Criterion:
    """One criterion of the score: its weight and which direction means more need."""

    name: str
    weight: float
    direction: str


@dataclass(frozen=True)
class ScoringConfig:
    """Parameters of :func:`zonage.priority.scoring.score_territories`."""

    normalisation: str
    gap_threshold: float
    consultations_per_gp: float
    density_per: float
    min_coverage: float
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of :func:`zonage.priority.simulation.simulate_zoning`."""

    zip_max: float
    vivier_max: float
    territory: str
    arrondissements: bool
    vivier_order: str
    vivier_fill: str
    vivier_rest: str
    cap_default: float
    caps: Mapping[str, float]
    margin_enabled: bool
    margin_share: float
    margin_order: str
    margin_fill: str

    def cap(self, region: str) -> float:
        """Cap on the share of région ``region``'s population in ZIP (A + B)."""
        return float(self.caps.get(str(region), self.cap_default))


@dataclass(frozen=True)
class AllocationConfig:
    """Parameters of :func:`zonage.priority.allocation.prioritise` (the ``[allocation]`` table).

    The defaults are those of the packaged ``default.toml``, where every key is documented.
    """

    baseline: str = "drees"
    apl_year: int = 2023
    objective: str = "shortfall_squared"
    objective_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    models: tuple[str, ...] = ("reference", "routes_directes", "routes_lentes", "exponentielle", "lineaire",
                               "gaussienne")
    threshold: float = 4.0
    consultations_per_post: float = 5400.0
    consultations_per_gp: float = 5400.0
    demand: str = "pop_std"
    method: str = "e2sfca"
    decay: str = "drees"
    cutoff: float = 30.0
    schemes: tuple[str, ...] = ("400mg_volet1", "400mg_volet2")
    statuses: tuple[str, ...] = ("eligible",)
    max_per_structure: int = 1
    min_per_departement: int = 0
    budget: float = 0.0
    territory: str = "bv2012"
    naive_apl: str = "drees"
    exclude_names: tuple[str, ...] = ()
    cost_default: float = 1.0
    costs: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def cost(self, scheme: str) -> float:
        """Cost of one post of ``scheme`` (``costs.schemes`` or ``costs.default``)."""
        return float(self.costs.get(str(scheme), self.cost_default))


@dataclass(frozen=True)
class PriorityConfig:
    """All parameters, with where they were read from."""

    apl_year: int
    apl_column: str
    apl_weight: str
    scoring: ScoringConfig
    simulation: SimulationConfig
    class_map: Mapping[str, str]
    sources: tuple[str, ...] = field(default=())
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    allocation: AllocationConfig = field(default_factory=AllocationConfig)


def default_config_path() -> Path:
    """Path of the packaged ``default.toml``."""
    return Path(str(resources.files("zonage.priority").joinpath("config/default.toml")))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise PriorityConfigError(f"{path}: no such parameter file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PriorityConfigError(f"{path}: not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class _Reader:
    """Typed access to a nested dict, raising errors that name the file and key path."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def fail(self, key: str, problem: str) -> PriorityConfigError:
        return PriorityConfigError(f"{self.where}: {key}: {problem}")

    def table(self, key: str) -> dict[str, Any]:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise self.fail(key, "missing table")
            node = node[part]
        if not isinstance(node, Mapping):
            raise self.fail(key, f"expected a table, got {type(node).__name__}")
        return dict(node)

    def only(self, key: str, allowed: set[str]) -> None:
        unknown = sorted(set(self.table(key)) - allowed)
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def value(self, key: str) -> Any:
        table, _, name = key.rpartition(".")
        node = self.table(table) if table else dict(self.data)
        if name not in node:
            raise self.fail(key, "missing value")
        return node[name]

    def number(self, key: str, *, low: float | None = None, high: float | None = None,
               strict_low: bool = False) -> float:
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(key, f"expected a number, got {value!r}")
        if low is not None and (value < low or (strict_low and value == low)):
            raise self.fail(key, f"{value!r} must be {'>' if strict_low else '≥'} {low}")
        if high is not None and value > high:
            raise self.fail(key, f"{value!r} must be ≤ {high}")
        return float(value)

    def integer(self, key: str) -> int:
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {value!r}")
        return value

    def flag(self, key: str) -> bool:
        value = self.value(key)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.value(key)
        if value not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return str(value)

    def strings(self, key: str, *, choices: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.value(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, f"expected a non-empty list of names, got {value!r}")
        if len(set(value)) != len(value):
            raise self.fail(key, f"{value!r} names an item twice")
        if choices is not None:
            wrong = [v for v in value if v not in choices]
            if wrong:
                raise self.fail(key, f"{wrong[0]!r} is not one of {', '.join(choices)}")
        return tuple(value)


def _build(data: Mapping[str, Any], where: str) -> PriorityConfig:
    r = _Reader(data, where)
    unknown = sorted(set(data) - {"data", "scoring", "simulation", "comparison", "allocation"})
    if unknown:
        raise r.fail(unknown[0], "unknown table (allowed: allocation, comparison, data, scoring, simulation)")
    r.only("data", {"apl_year", "apl_column", "apl_weight"})
    r.only("scoring", {"normalisation", "gap_threshold", "consultations_per_gp", "density_per", "min_coverage",
                         "criteria"})
    r.only("simulation", {"zip_max", "vivier_max", "territory", "arrondissements", "vivier_order", "vivier_fill",
                          "vivier_rest", "caps", "margin"})
    r.only("simulation.caps", {"default", "regions"})
    r.only("simulation.margin", {"enabled", "share", "order", "fill"})
    r.only("comparison", {"class_map"})

    criteria = []
    for name in r.table("scoring.criteria"):
        key = f"scoring.criteria.{name}"
        if name not in CRITERIA:
            raise r.fail(key, f"unknown criterion (known: {', '.join(CRITERIA)})")
        r.only(key, {"weight", "direction"})
        criteria.append(Criterion(name, r.number(f"{key}.weight", low=0.0), r.choice(f"{key}.direction", _DIRECTIONS)))
    if not any(c.weight > 0 for c in criteria):
        raise r.fail("scoring.criteria", "at least one criterion needs a weight > 0")
    scoring = ScoringConfig(
        normalisation=r.choice("scoring.normalisation", _NORMALISATIONS),
        gap_threshold=r.number("scoring.gap_threshold", low=0.0, strict_low=True),
        consultations_per_gp=r.number("scoring.consultations_per_gp", low=0.0, strict_low=True),
        density_per=r.number("scoring.density_per", low=0.0, strict_low=True),
        min_coverage=r.number("scoring.min_coverage", low=0.0, high=1.0),
        criteria=tuple(criteria),
    )

    zip_max = r.number("simulation.zip_max", low=0.0)
    vivier_max = r.number("simulation.vivier_max", low=0.0)
    if not zip_max < vivier_max:
        raise r.fail("simulation.vivier_max", f"{vivier_max!r} must be greater than zip_max ({zip_max!r})")
    caps: dict[str, float] = {}
    for region in r.table("simulation.caps.regions"):
        caps[str(region)] = r.number(f"simulation.caps.regions.{region}", low=0.0, high=1.0)
    simulation = SimulationConfig(
        zip_max=zip_max,
        vivier_max=vivier_max,
        territory=r.choice("simulation.territory", _TERRITORIES),
        arrondissements=r.flag("simulation.arrondissements"),
        vivier_order=r.choice("simulation.vivier_order", _ORDERS),
        vivier_fill=r.choice("simulation.vivier_fill", _FILLS),
        vivier_rest=r.choice("simulation.vivier_rest", _RESTS),
        cap_default=r.number("simulation.caps.default", low=0.0, high=1.0),
        caps=MappingProxyType(caps),
        margin_enabled=r.flag("simulation.margin.enabled"),
        margin_share=r.number("simulation.margin.share", low=0.0, high=1.0),
        margin_order=r.choice("simulation.margin.order", _MARGIN_ORDERS),
        margin_fill=r.choice("simulation.margin.fill", _FILLS),
    )

    class_map = r.table("comparison.class_map")
    for source, target in class_map.items():
        if source not in _CLASSES or target not in _CLASSES:
            raise r.fail(f"comparison.class_map.{source}", f"classes must be among {', '.join(_CLASSES)}")

    allocation = _allocation(r) if "allocation" in data else AllocationConfig()

    apl_year = r.integer("data.apl_year")
    if not 2000 <= apl_year <= 2100:
        raise r.fail("data.apl_year", f"{apl_year} is not a plausible year")
    return PriorityConfig(
        apl_year=apl_year,
        apl_column=r.choice("data.apl_column", _APL_COLUMNS),
        apl_weight=r.choice("data.apl_weight", _APL_WEIGHTS),
        scoring=scoring,
        simulation=simulation,
        class_map=MappingProxyType({str(k): str(v) for k, v in class_map.items()}),
        raw=MappingProxyType(dict(data)),
        allocation=allocation,
    )


def _allocation(r: _Reader) -> AllocationConfig:
    """Read and check the ``[allocation]`` table."""
    from zonage.access.decay import parse_decay

    r.only("allocation", {"baseline", "apl_year", "objective", "objective_weights", "models", "threshold",
                          "consultations_per_post", "consultations_per_gp", "demand",
                          "method", "decay", "cutoff", "schemes", "statuses", "max_per_structure",
                          "min_per_departement", "budget", "territory", "naive_apl", "exclude_names", "costs"})
    r.only("allocation.costs", {"default", "schemes"})
    decay = r.value("allocation.decay")
    if not isinstance(decay, str):
        raise r.fail("allocation.decay", f"expected a decay name, got {decay!r}")
    try:
        parse_decay(decay)
    except ValueError as exc:
        raise r.fail("allocation.decay", str(exc)) from None
    counts = {}
    for key in ("max_per_structure", "min_per_departement"):
        counts[key] = r.integer(f"allocation.{key}")
        if counts[key] < 0:
            raise r.fail(f"allocation.{key}", f"{counts[key]!r} must be ≥ 0 (0: none)")
    costs = {str(scheme): r.number(f"allocation.costs.schemes.{scheme}", low=0.0, strict_low=True)
             for scheme in r.table("allocation.costs.schemes")}
    from zonage.priority.ensemble import DEFAULT_ENSEMBLE
    from zonage.priority.objectives import OBJECTIVES

    weights = r.value("allocation.objective_weights")
    if (not isinstance(weights, list) or len(weights) != 3
            or not all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in weights)
            or not any(w > 0 for w in weights)):
        raise r.fail("allocation.objective_weights", f"expected three weights ≥ 0, one > 0, got {weights!r}")
    apl_year = r.integer("allocation.apl_year")
    if not 2015 <= apl_year <= 2100:
        raise r.fail("allocation.apl_year", f"{apl_year!r} is not a plausible APL year")
    return AllocationConfig(
        baseline=r.choice("allocation.baseline", _BASELINES),
        apl_year=apl_year,
        objective=r.choice("allocation.objective", OBJECTIVES),
        objective_weights=(float(weights[0]), float(weights[1]), float(weights[2])),
        models=r.strings("allocation.models", choices=tuple(m.name for m in DEFAULT_ENSEMBLE)),
        threshold=r.number("allocation.threshold", low=0.0, strict_low=True),
        consultations_per_post=r.number("allocation.consultations_per_post", low=0.0, strict_low=True),
        consultations_per_gp=r.number("allocation.consultations_per_gp", low=0.0, strict_low=True),
        demand=r.choice("allocation.demand", _DEMANDS),
        method=r.choice("allocation.method", _ALLOCATION_METHODS),
        decay=decay,
        cutoff=r.number("allocation.cutoff", low=0.0, strict_low=True),
        schemes=r.strings("allocation.schemes"),
        statuses=r.strings("allocation.statuses", choices=_STATUSES),
        max_per_structure=counts["max_per_structure"],
        min_per_departement=counts["min_per_departement"],
        budget=r.number("allocation.budget", low=0.0),
        territory=r.choice("allocation.territory", _ALLOCATION_TERRITORIES),
        naive_apl=r.choice("allocation.naive_apl", _BASELINES),
        exclude_names=() if r.value("allocation.exclude_names") == [] else r.strings("allocation.exclude_names"),
        cost_default=r.number("allocation.costs.default", low=0.0, strict_low=True),
        costs=MappingProxyType(costs),
    )


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> PriorityConfig:
    """Read the packaged defaults, merge a planner's file and overrides on top, validate.

    Parameters
    ----------
    path
        A TOML file holding only the keys it changes (optional).
    overrides
        Nested dict merged last, e.g. ``{"simulation": {"caps": {"default": 0.25}}}``
        (used by tests and benchmarks).

    Returns
    -------
    PriorityConfig
        Frozen, validated parameters; ``sources`` lists the files read.

    Raises
    ------
    PriorityConfigError
        A file is missing or not TOML, or a key is unknown, of the wrong type or out of range.
    """
    default = default_config_path()
    data = _read_toml(default)
    sources = [str(default)]
    where = str(default)
    if path is not None:
        extra = _read_toml(Path(path))
        data = _merge(data, extra)
        sources.append(str(path))
        where = str(path)
    if overrides:
        data = _merge(data, overrides)
        sources.append("overrides")
        where = f"{where} + overrides"
    return replace(_build(data, where), sources=tuple(sources))
