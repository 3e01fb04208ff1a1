"""An ensemble of plausible travel models, so that a plan does not rest on one of them.

The effect of a post on each commune comes from a travel model (how far people go, how
fast, from which point of their commune, with which distance decay). None is the truth:
the DREES uses road times from its own network, which are not open. A plan is therefore
chosen for its **expected** gain over several models that differ in the parts a planner
cannot pin down — detour factor, speeds by distance band, the point a commune is
reduced to (a point inside it, or its centroid), stepped (DREES) or continuous decay —
and judged on a model it was not chosen with (leave one model out, see
:mod:`zonage.studies.prioritisation`).

Why the expected value and not the worst case: the mean of the models' objectives is
again monotone and DR-submodular (greedy keeps its ``1 − 1/e`` guarantee, the exact MILP
stays a MILP), whereas the worst case is not submodular and would let one odd model
dictate every post. The spread (min–max over the models) is reported with every plan.

The Alpes-Maritimes OD table of the mirror (real road times, IRIS level) covers one
département of PACA only and carries no licence (testing use): it is not a member; it
judges PACA plans in ``benchmarks/bench_prioritisation.py --road-times`` (BENCHMARKS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from zonage.access.costs import StraightLine
from zonage.access.decay import Decay, parse_decay

__all__ = ["DEFAULT_ENSEMBLE", "TravelModel", "ensemble_by_name"]


@dataclass(frozen=True)
class TravelModel:
    """One travel model: straight line × detour, speeds by road-distance band, commune point, decay."""

    name: str
    detour: float
    speeds: tuple[tuple[float, float], ...]
    point: str
    decay: str
    cutoff: float = 30.0
    label_fr: str = ""

    def straight_line(self) -> StraightLine:
        """The cost model (minutes)."""
        return StraightLine(detour=self.detour, speeds=self.speeds)

    def decay_fn(self) -> Decay:
        """The distance decay."""
        return parse_decay(self.decay)

    def radius_m(self) -> float:
        """Largest straight-line distance (m) within the cut-off."""
        return self.straight_line().max_metres(self.cutoff)

    def describe(self) -> str:
        """One line: detour, speeds, point, decay."""
        speeds = "/".join(f"{v:g}" for _, v in self.speeds)
        return f"{self.name}: détour {self.detour:g}, vitesses {speeds} km/h, point {self.point}, {self.decay}"


_INF = math.inf

#: The packaged ensemble (the first member is the engine's default model).
DEFAULT_ENSEMBLE: tuple[TravelModel, ...] = (
    TravelModel("reference", 1.3, ((5.0, 30.0), (20.0, 60.0), (_INF, 80.0)), "representative", "drees",
                label_fr="référence : détour 1,3, 30/60/80 km/h, point intérieur, paliers DREES"),
    TravelModel("routes_directes", 1.2, ((5.0, 40.0), (20.0, 70.0), (_INF, 90.0)), "centroid", "drees",
                label_fr="routes directes : détour 1,2, 40/70/90 km/h, centroïde, paliers DREES"),
    TravelModel("routes_lentes", 1.5, ((5.0, 25.0), (20.0, 50.0), (_INF, 70.0)), "representative", "drees",
                label_fr="routes lentes : détour 1,5, 25/50/70 km/h, point intérieur, paliers DREES"),
    TravelModel("exponentielle", 1.3, ((5.0, 30.0), (20.0, 60.0), (_INF, 80.0)), "centroid", "exp:0.12",
                label_fr="décroissance exponentielle exp(−0,12 t), détour 1,3, centroïde"),
    TravelModel("lineaire", 1.4, ((5.0, 30.0), (20.0, 55.0), (_INF, 75.0)), "representative", "linear:20",
                label_fr="décroissance linéaire jusqu'à 20 min, détour 1,4, 30/55/75 km/h"),
    TravelModel("gaussienne", 1.25, ((5.0, 35.0), (20.0, 65.0), (_INF, 85.0)), "centroid", "gauss:10",
                label_fr="décroissance gaussienne (σ 10 min), détour 1,25, 35/65/85 km/h, centroïde"),
)


def ensemble_by_name(names: list[str] | tuple[str, ...] | None = None) -> tuple[TravelModel, ...]:
    """Members of :data:`DEFAULT_ENSEMBLE` by name (all when None)."""
    if names is None:
        return DEFAULT_ENSEMBLE
    known = {m.name: m for m in DEFAULT_ENSEMBLE}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown travel model(s) {unknown}; known: {', '.join(known)}")
    return tuple(known[n] for n in names)


def unit_points(polygons_xy: dict[str, np.ndarray], point: str) -> np.ndarray:
    """The ``(n, 2)`` points of the demand units for a model's ``point`` choice."""
    if point not in polygons_xy:
        raise ValueError(f"unknown commune point {point!r} (representative or centroid)")
    return polygons_xy[point]
