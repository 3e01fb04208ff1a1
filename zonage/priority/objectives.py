"""What a plan of posts is judged on: need-weighted objectives, chosen by name.

Every objective is a sum over the demand units ``i`` of the région, weighted by their
standardised population ``p_i``, of a function ``φ`` of the unit's accessibility ``A_i``
(consultations per year per standardised inhabitant, the unit of the DREES APL)::

    F(A) = Σ_i p_i φ(A_i)          gain of a plan = F(A⁰ + ΔA) − F(A⁰)

=============================  =======================================  ===================================
name                           φ(A)                                     gain reads as
=============================  =======================================  ===================================
``consultations_under``        ``min(A, T)``                            consultations a year reaching
                                                                        people under ``T`` (each counted up
                                                                        to ``T``)
``shortfall_squared``          ``−max(0, T − A)²``                      reduction of the population-weighted
                                                                        squared shortfall under ``T``
``lifted``                     ``1 if A ≥ L else 0``                    standardised inhabitants lifted over
                                                                        ``L`` (2.5: the ZIP threshold of the
                                                                        2017–2024 method)
``combined``                   weighted sum of the three, each divided  a 0–1 share of each measure's room
                               by its room in the région (the whole
                               gap, squared gap, population under L)
=============================  =======================================  ===================================

Why the default is ``shortfall_squared``: ``consultations_under`` saturates with the
official APL as baseline (in Grand Est and Normandie both a good and a poor plan put
85–100 % of every post's consultations in front of people under 4), so it cannot tell
plans apart; ``lifted`` is a step function (a post that brings a commune from 1.0 to 2.4
counts zero) and is not submodular, so greedy has no guarantee on it. The squared
shortfall is concave and non-decreasing in ``A`` — greedy keeps its ``1 − 1/e``
guarantee — and it weighs a consultation more the further below ``T`` its recipient
is: it helps the worst-served first, which is what the zoning is for.

``φ`` is concave for the first two (and for ``combined`` with ``lifted``'s weight 0);
:meth:`Objective.tangents` gives the lines whose minimum is ``φ`` (exact for
``min(A, T)``, an upper envelope for the square), used by the exact MILP solution.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["OBJECTIVES", "Objective", "lifted", "make_objective", "measures", "rooms_of", "shortfall_squared",
           "under_threshold"]

#: Accessibility below which a territory was a ZIP by national selection (2017–2024 method).
ZIP_THRESHOLD = 2.5


@dataclass(frozen=True)
class Objective:
    """``F(A) = Σ p_i φ(A_i)``: name, ``φ``, and whether ``φ`` is concave (greedy's guarantee, MILP)."""

    name: str
    phi: Callable[[np.ndarray], np.ndarray]
    concave: bool
    label_fr: str
    label_en: str
    threshold: float
    parts: tuple[tuple[Objective, float, float], ...] = field(default=(), repr=False)

    def value(self, demand: np.ndarray, access: np.ndarray) -> float:
        """``Σ p_i φ(A_i)``."""
        return float(np.dot(demand, self.phi(np.asarray(access, dtype="float64"))))

    def gain(self, demand: np.ndarray, before: np.ndarray, after: np.ndarray) -> float:
        """``F(after) − F(before)``, summed unit by unit (exact cancellation where nothing changed)."""
        return float(np.dot(demand, self.phi(np.asarray(after, dtype="float64"))
                            - self.phi(np.asarray(before, dtype="float64"))))

    def tangents(self, low: float, high: float, step: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """Lines ``(intercept, slope)`` whose pointwise minimum on ``[low, high]`` is ``≥ φ`` and equals it at knots.

        For a concave ``φ`` the minimum of its tangents is an upper envelope touching ``φ``
        at every knot (exact for the piecewise-linear ``min(A, T)``). Knots every ``step``.
        """
        if not self.concave:
            raise ValueError(f"objective {self.name!r} is not concave: no tangent envelope")
        if self.parts:
            raise ValueError("tangents of a combination: take them part by part")
        knots = np.unique(np.concatenate([np.arange(low, high + step, step), [low, high]]))
        eps = 1e-6
        values = self.phi(knots)
        slopes = (self.phi(knots + eps) - values) / eps  # right derivative
        intercepts = values - slopes * knots
        return intercepts, slopes


def under_threshold(threshold: float = 4.0) -> Objective:
    """``consultations_under``: ``φ(A) = min(A, T)``."""
    return Objective("consultations_under", lambda a: np.minimum(a, threshold), True,
                     f"consultations par an atteignant des personnes sous {_num(threshold)}",
                     f"consultations a year reaching people under {threshold:g}", threshold)


def shortfall_squared(threshold: float = 4.0) -> Objective:
    """``shortfall_squared``: ``φ(A) = −max(0, T − A)²``."""
    return Objective("shortfall_squared", lambda a: -np.square(np.maximum(threshold - a, 0.0)), True,
                     f"réduction du déficit quadratique sous {_num(threshold)} (population standardisée)",
                     f"reduction of the squared shortfall under {threshold:g} (standardised population)", threshold)


def lifted(level: float = ZIP_THRESHOLD, threshold: float = 4.0) -> Objective:
    """``lifted``: ``φ(A) = 1[A ≥ L]``: standardised inhabitants brought to ``L`` or above."""
    return Objective("lifted", lambda a: (a >= level).astype("float64"), False,
                     f"habitants standardisés portés au-dessus de {_num(level)}",
                     f"standardised inhabitants lifted over {level:g}", threshold)


def combined(weights: tuple[float, float, float], rooms: tuple[float, float, float], threshold: float = 4.0,
             level: float = ZIP_THRESHOLD) -> Objective:
    """Weighted sum of the three, each divided by its room in the région (``rooms``, all > 0).

    ``rooms``: ``Σ p max(0, T − A⁰)``, ``Σ p max(0, T − A⁰)²`` and ``Σ p 1[A⁰ < L]`` of the
    baseline; so each part's gain is a share of what could be gained at most.
    """
    parts = ((under_threshold(threshold), weights[0], rooms[0]), (shortfall_squared(threshold), weights[1], rooms[1]),
             (lifted(level, threshold), weights[2], rooms[2]))
    used = tuple(p for p in parts if p[1] > 0)
    if not used:
        raise ValueError("combined objective: at least one weight must be > 0")
    for part, _, room in used:
        if not room > 0:
            raise ValueError(f"combined objective: no room for {part.name} in this région")

    def phi(a: np.ndarray) -> np.ndarray:
        total = np.zeros_like(np.asarray(a, dtype="float64"))
        for part, weight, room in used:
            total = total + weight / room * part.phi(a)
        return total

    concave = all(part.concave for part, _, _ in used)
    label = " + ".join(f"{w:g} × {p.name}" for p, w, _ in used)
    return Objective("combined", phi, concave, f"combinaison : {label}", f"combination: {label}", threshold, used)


def make_objective(name: str, threshold: float = 4.0, *, weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   rooms: tuple[float, float, float] | None = None) -> Objective:
    """The objective called ``name`` (see :data:`OBJECTIVES`)."""
    if name == "consultations_under":
        return under_threshold(threshold)
    if name == "shortfall_squared":
        return shortfall_squared(threshold)
    if name == "lifted":
        return lifted(ZIP_THRESHOLD, threshold)
    if name == "combined":
        if rooms is None:
            raise ValueError("combined objective: give the rooms of the région (see combined())")
        return combined(weights, rooms, threshold)
    raise ValueError(f"unknown objective {name!r} (known: {', '.join(OBJECTIVES)})")


def rooms_of(demand: np.ndarray, access: np.ndarray, threshold: float = 4.0,
             level: float = ZIP_THRESHOLD) -> tuple[float, float, float]:
    """Room of each measure in a région: whole gap, squared gap, standardised population under ``level``."""
    short = np.maximum(threshold - access, 0.0)
    return (float(np.dot(demand, short)), float(np.dot(demand, short ** 2)), float(demand[access < level].sum()))


def measures(demand: np.ndarray, before: np.ndarray, after: np.ndarray, threshold: float = 4.0,
             level: float = ZIP_THRESHOLD) -> dict[str, float]:
    """The three measures a plan is judged on, as gains from ``before`` to ``after`` accessibility.

    ``consultations_under`` (consultations a year reaching people under ``threshold``),
    ``shortfall_squared`` (reduction of ``Σ p (T − A)₊²``) and ``lifted`` (standardised
    inhabitants brought from under ``level`` to ``level`` or above).
    """
    return {name: make_objective(name, threshold).gain(demand, before, after)
            for name in ("consultations_under", "shortfall_squared", "lifted")}


#: Objectives by name (``combined`` needs the région's rooms, see :func:`make_objective`).
OBJECTIVES: tuple[str, ...] = ("shortfall_squared", "consultations_under", "lifted", "combined")


def _num(value: float) -> str:
    return f"{value:g}".replace(".", ",") if not math.isnan(value) else "?"
