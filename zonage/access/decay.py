"""Distance-decay functions: cost → weight, vectorised.

Each factory returns a :class:`Decay`, a named callable mapping an array of costs to
an array of weights in [0, 1]. The catchment cut-off is applied separately (pairs with
``cost > cutoff`` are never in the weight matrix).

- :func:`binary` — 1 within the catchment (the original 2SFCA);
- :func:`stepped` — constant by cost band (E2SFCA; :func:`drees` is the APL's
  1 below 10 min, 2/3 to 15 min, 1/3 to 20 min, 0 beyond);
- :func:`exponential`, :func:`gaussian`, :func:`linear` — continuous decays.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Decay:
    """A named, vectorised decay function.

    Attributes
    ----------
    name
        Short description, e.g. ``"stepped(10:1, 15:0.667, 20:0.333)"``.
    function
        ``f(costs: ndarray) -> weights: ndarray``.
    """

    name: str
    function: Callable[[np.ndarray], np.ndarray]

    def __call__(self, cost: np.ndarray) -> np.ndarray:
        """Weights of ``cost`` (float64 array of the same shape)."""
        weights = np.asarray(self.function(np.asarray(cost, dtype="float64")), dtype="float64")
        if weights.shape != np.shape(cost):
            weights = np.broadcast_to(weights, np.shape(cost)).astype("float64")
        return weights

    def __str__(self) -> str:
        return self.name


def binary() -> Decay:
    """Weight 1 for every pair within the cut-off (2SFCA)."""
    return Decay("binary", lambda c: np.ones_like(c))


def stepped(steps: Mapping[float, float] | Sequence[tuple[float, float]], *, right: bool = True) -> Decay:
    """Step weights: ``w_k`` for costs in band k, 0 beyond the last bound.

    Parameters
    ----------
    steps
        ``{upper_bound: weight}`` or ``[(upper_bound, weight), …]``.
    right
        Bands closed on the right, ``(u_{k-1}, u_k]`` (PySAL ``access.weights.step_fn``
        convention: a cost equal to a bound takes that band's weight); ``False`` for
        ``[u_{k-1}, u_k)``.

    Examples
    --------
    >>> stepped({10: 1, 20: 0.5})(np.array([0, 10, 15, 20, 25])).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.0]
    """
    items = sorted((float(b), float(w)) for b, w in (steps.items() if isinstance(steps, Mapping) else steps))
    if not items:
        raise ValueError("stepped decay needs at least one (bound, weight)")
    bounds = np.array([b for b, _ in items])
    weights = np.array([w for _, w in items] + [0.0])
    if np.unique(bounds).size != bounds.size or (weights < 0).any() or not np.isfinite(weights).all():
        raise ValueError(f"step bounds must be distinct and weights ≥ 0: {items}")
    label = ", ".join(f"{b:g}:{w:.3g}" for b, w in items)
    jumps = weights[:-1] - weights[1:]  # weight lost when crossing each bound

    def function(cost: np.ndarray) -> np.ndarray:
        # Σ_k jump_k · [cost within bound k]: a few vectorised comparisons, no sort.
        out = np.zeros(np.shape(cost), dtype="float64")
        for bound, jump in zip(bounds, jumps, strict=True):
            out += jump * ((cost <= bound) if right else (cost < bound))
        return out

    return Decay(f"stepped({label}{'' if right else ', left-closed'})", function)


def drees() -> Decay:
    """The DREES APL decay on road minutes: 1 up to 10, 2/3 up to 15, 1/3 up to 20, 0 beyond.

    From the "Paramètres" sheet of the DREES APL workbook (2022–2023).
    """
    decay = stepped({10.0: 1.0, 15.0: 2.0 / 3.0, 20.0: 1.0 / 3.0})
    return Decay("drees" + decay.name.removeprefix("stepped"), decay.function)


def luo_qi() -> Decay:
    """Luo & Qi (2009) E2SFCA weights, PySAL's default: 1 to 10, 0.68 to 20, 0.22 to 30."""
    return stepped({10.0: 1.0, 20.0: 0.68, 30.0: 0.22})


def exponential(beta: float) -> Decay:
    """``exp(-beta * cost)``."""
    if not (beta >= 0 and math.isfinite(beta)):
        raise ValueError(f"exponential decay: beta must be ≥ 0, not {beta}")
    return Decay(f"exponential({beta:g})", lambda c: np.exp(-beta * c))


def gaussian(sigma: float) -> Decay:
    """``exp(-cost² / (2 sigma²))`` (PySAL's ``weights.gaussian``: 1 at cost 0)."""
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"gaussian decay: sigma must be > 0, not {sigma}")
    return Decay(f"gaussian({sigma:g})", lambda c: np.exp(-(c * c) / (2.0 * sigma * sigma)))


def linear(zero_at: float) -> Decay:
    """``max(0, 1 - cost / zero_at)``: from 1 at cost 0 down to 0 at ``zero_at``."""
    if not (zero_at > 0 and math.isfinite(zero_at)):
        raise ValueError(f"linear decay: zero_at must be > 0, not {zero_at}")
    return Decay(f"linear({zero_at:g})", lambda c: np.clip(1.0 - c / zero_at, 0.0, 1.0))


def parse_decay(text: str) -> Decay:
    """A decay from a short text (command line).

    ``binary``, ``drees``, ``luo-qi``, ``exp:0.12``, ``gauss:10``, ``linear:20``,
    ``steps:10=1,15=0.667,20=0.333``.
    """
    name, _, arg = text.strip().partition(":")
    name = name.lower().replace("_", "-")
    try:
        if name == "binary":
            return binary()
        if name == "drees":
            return drees()
        if name in ("luo-qi", "luoqi"):
            return luo_qi()
        if name in ("exp", "exponential"):
            return exponential(float(arg))
        if name in ("gauss", "gaussian"):
            return gaussian(float(arg))
        if name == "linear":
            return linear(float(arg))
        if name in ("steps", "stepped"):
            pairs = [part.split("=") for part in arg.split(",") if part.strip()]
            return stepped([(float(b), float(w)) for b, w in pairs])
    except ValueError as exc:
        raise ValueError(f"décroissance {text!r} : paramètre illisible ({exc})") from None
    raise ValueError(
        f"décroissance {text!r} inconnue : binary, drees, luo-qi, exp:BETA, gauss:SIGMA, linear:ZERO_AT, "
        "steps:B=W,B=W…"
    )
