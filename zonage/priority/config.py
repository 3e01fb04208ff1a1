"""Parameters of territory scoring and zoning simulation, read from TOML and validated.

The packaged defaults are ``zonage/priority/config/default.toml`` (every key is
documented there). A planner's file holds only what it changes: it is deep-merged on
top of the defaults (tables merge, values and arrays replace), then everything is
checked with pydantic models (:mod:`zonage.settings`): unknown keys, wrong types, weights
< 0, thresholds out of order, caps outside 0–1, unknown choices. Any problem raises
:class:`PriorityConfigError` naming the file, the key path (``simulation.caps.regions.44``) and what is wrong.

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

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from zonage.errors import ZonageError
from zonage.settings import StrictModel, deep_merge, read_toml, validate

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


class _Criterion(StrictModel):
    weight: float = Field(ge=0)
    direction: Literal["lower", "higher"]


_CriterionName = Literal["apl", "gp_density", "population", "qpv_population", "n_qpv", "gap"]


class _Scoring(StrictModel):
    normalisation: Literal["rank", "minmax"]
    gap_threshold: float = Field(gt=0)
    consultations_per_gp: float = Field(gt=0)
    density_per: float = Field(gt=0)
    min_coverage: float = Field(ge=0, le=1)
    criteria: dict[_CriterionName, _Criterion]


class _Caps(StrictModel):
    default: float = Field(ge=0, le=1)
    regions: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)


class _Margin(StrictModel):
    enabled: bool
    share: float = Field(ge=0, le=1)
    order: Literal["apl_asc", "qpv_first"]
    fill: Literal["stop", "skip"]


class _Simulation(StrictModel):
    zip_max: float = Field(ge=0)
    vivier_max: float = Field(ge=0)
    territory: Literal["bv2012", "commune"]
    arrondissements: bool
    vivier_order: Literal["apl_asc"]
    vivier_fill: Literal["stop", "skip"]
    vivier_rest: Literal["ZAC", "ZV"]
    caps: _Caps
    margin: _Margin


_Class = Literal["ZIP", "ZAC", "ZAR", "ZV", "HZ", "unknown"]


class _Comparison(StrictModel):
    class_map: dict[_Class, _Class]


class _Data(StrictModel):
    apl_year: int = Field(ge=2000, le=2100)
    apl_column: Literal["apl_65", "apl"]
    apl_weight: Literal["pop_std", "population"]


_Names = Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Field(min_length=1)]


class _Costs(StrictModel):
    default: float = Field(gt=0)
    schemes: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)


class _Allocation(StrictModel):
    baseline: Literal["engine", "drees"]
    apl_year: int = Field(ge=2015, le=2100)
    objective: str
    objective_weights: tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)],
                             Annotated[float, Field(ge=0)]]
    models: _Names
    threshold: float = Field(gt=0)
    consultations_per_post: float = Field(gt=0)
    consultations_per_gp: float = Field(gt=0)
    demand: Literal["pop_std", "population"]
    method: Literal["e2sfca", "2sfca"]
    decay: str
    cutoff: float = Field(gt=0)
    schemes: _Names
    statuses: tuple[Literal["eligible", "needs_review", "not_eligible"], ...] = Field(min_length=1)
    max_per_structure: int = Field(ge=0)
    min_per_departement: int = Field(ge=0)
    budget: float = Field(ge=0)
    territory: Literal["bv2012", "commune", "epci", "departement"]
    naive_apl: Literal["engine", "drees"]
    exclude_names: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    costs: _Costs

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: str) -> str:
        from zonage.priority.objectives import OBJECTIVES

        if value not in OBJECTIVES:
            raise ValueError(f"{value!r} is not one of {', '.join(OBJECTIVES)}")
        return value

    @field_validator("models")
    @classmethod
    def _models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from zonage.priority.ensemble import DEFAULT_ENSEMBLE

        known = [m.name for m in DEFAULT_ENSEMBLE]
        wrong = [v for v in value if v not in known]
        if wrong:
            raise ValueError(f"{wrong[0]!r} is not one of {', '.join(known)}")
        return value

    @field_validator("models", "schemes", "statuses")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"{list(value)!r} names an item twice")
        return value

    @field_validator("objective_weights")
    @classmethod
    def _weights(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if not any(w > 0 for w in value):
            raise ValueError(f"expected three weights ≥ 0, one > 0, got {list(value)!r}")
        return value

    @field_validator("decay")
    @classmethod
    def _decay(cls, value: str) -> str:
        from zonage.access.decay import parse_decay

        parse_decay(value)  # ValueError names what is wrong
        return value


class _File(StrictModel):
    data: _Data
    scoring: _Scoring
    simulation: _Simulation
    comparison: _Comparison
    allocation: _Allocation | None = None


def _build(data: Mapping[str, Any], where: str) -> PriorityConfig:
    """Validate the merged parameters (:mod:`zonage.settings`) into the frozen configuration."""
    parsed = validate(_File, data, where, error=PriorityConfigError)
    scoring, simulation = parsed.scoring, parsed.simulation

    def fail(key: str, problem: str) -> PriorityConfigError:
        return PriorityConfigError(f"{where}: {key}: {problem}")

    if not any(c.weight > 0 for c in scoring.criteria.values()):
        raise fail("scoring.criteria", "at least one criterion needs a weight > 0")
    if not simulation.zip_max < simulation.vivier_max:
        raise fail("simulation.vivier_max",
                   f"{simulation.vivier_max!r} must be greater than zip_max ({simulation.zip_max!r})")
    a = parsed.allocation
    allocation = AllocationConfig() if a is None else AllocationConfig(
        baseline=a.baseline, apl_year=a.apl_year, objective=a.objective,
        objective_weights=tuple(float(w) for w in a.objective_weights),  # type: ignore[arg-type]
        models=a.models, threshold=a.threshold, consultations_per_post=a.consultations_per_post,
        consultations_per_gp=a.consultations_per_gp, demand=a.demand, method=a.method, decay=a.decay,
        cutoff=a.cutoff, schemes=a.schemes, statuses=a.statuses, max_per_structure=a.max_per_structure,
        min_per_departement=a.min_per_departement, budget=a.budget, territory=a.territory,
        naive_apl=a.naive_apl, exclude_names=a.exclude_names, cost_default=a.costs.default,
        costs=MappingProxyType(dict(a.costs.schemes)),
    )
    return PriorityConfig(
        apl_year=parsed.data.apl_year,
        apl_column=parsed.data.apl_column,
        apl_weight=parsed.data.apl_weight,
        scoring=ScoringConfig(
            normalisation=scoring.normalisation, gap_threshold=scoring.gap_threshold,
            consultations_per_gp=scoring.consultations_per_gp, density_per=scoring.density_per,
            min_coverage=scoring.min_coverage,
            criteria=tuple(Criterion(name, c.weight, c.direction) for name, c in scoring.criteria.items()),
        ),
        simulation=SimulationConfig(
            zip_max=simulation.zip_max, vivier_max=simulation.vivier_max, territory=simulation.territory,
            arrondissements=simulation.arrondissements, vivier_order=simulation.vivier_order,
            vivier_fill=simulation.vivier_fill, vivier_rest=simulation.vivier_rest,
            cap_default=simulation.caps.default, caps=MappingProxyType(dict(simulation.caps.regions)),
            margin_enabled=simulation.margin.enabled, margin_share=simulation.margin.share,
            margin_order=simulation.margin.order, margin_fill=simulation.margin.fill,
        ),
        class_map=MappingProxyType({str(k): str(v) for k, v in parsed.comparison.class_map.items()}),
        raw=MappingProxyType(dict(data)),
        allocation=allocation,
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
    data = read_toml(default, error=PriorityConfigError)
    sources = [str(default)]
    where = str(default)
    if path is not None:
        extra = read_toml(Path(path), error=PriorityConfigError)
        data = deep_merge(data, extra)
        sources.append(str(path))
        where = str(path)
    if overrides:
        data = deep_merge(data, overrides)
        sources.append("overrides")
        where = f"{where} + overrides"
    return replace(_build(data, where), sources=tuple(sources))
