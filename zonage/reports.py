"""Texts a planner reads: the summary of a batch and the verdict of an application, in French by default.

Pure functions returning lines of text (no printing, no computing beyond counting):
the CLI prints them, a notebook may display them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd

from zonage.eligibility import STATUSES, BatchResult
from zonage.numbers import french_number
from zonage.rules import ApplicationVerdict, Scheme

__all__ = ["STATUS_WORDS", "application_lines", "batch_summary_lines", "format_eur", "prioritisation_lines",
           "undated_warning"]

#: Status words (columns ``statut_*`` hold the machine names on the left).
STATUS_WORDS: dict[str, dict[str, str]] = {
    "fr": {"eligible": "éligible", "needs_review": "à vérifier", "not_eligible": "non éligible",
           "not_applicable": "non applicable", "error": "erreur", "partner": "partenaire possible"},
    "en": {"eligible": "eligible", "needs_review": "to check", "not_eligible": "not eligible",
           "not_applicable": "not applicable", "error": "error", "partner": "possible partner"},
}
_UNDATED = ("ZONING_DATE_NOT_COVERED", "ZONING_ORDER_NOT_LOADED")


def format_eur(amount: float, lang: str = "fr") -> str:
    """``50 400 €`` (fr) or ``€50,400`` (en); cents only when there are some."""
    whole = float(amount).is_integer()
    text = f"{amount:,.0f}" if whole else f"{amount:,.2f}"
    if lang == "fr":
        return text.replace(",", "\u202f").replace(".", ",") + " €"
    return "€" + text


def _day(on: date, lang: str) -> str:
    return on.strftime("%d/%m/%Y") if lang == "fr" else on.isoformat()


def _loaded_orders_end() -> date | None:
    """End of the period of the zoning orders whose classes are loaded (from ``_zoning_orders.toml``)."""
    from zonage.rules import load_schemes

    schemes = load_schemes()
    if not schemes:
        return None
    common = next(iter(schemes.values())).common
    if common is None:
        return None
    ends = [o.end for o in common.zoning_orders if o.vintage and not o.regions and o.end is not None]
    return max(ends) if ends else None


def undated_warning(reasons: pd.Series, on: date | None = None, lang: str = "fr") -> str | None:
    """The warning when answers are open because no loaded zoning order is in force at the date (else None).

    ``reasons``: the reason codes of the verdicts (a ``raisons_*`` column or the long table's).
    """
    n = int(reasons.astype(str).str.contains("|".join(_UNDATED)).sum())
    if not n:
        return None
    fr = lang == "fr"
    end = _loaded_orders_end()
    until = _day(end, lang) if end is not None else "?"
    when = (f"le {_day(on, lang)}" if fr else f"on {_day(on, lang)}") if on is not None else \
        ("à la date de la question" if fr else "on the question's date")
    if fr:
        return (f"Attention : {n} réponses sont « à vérifier » (au moins) parce qu'aucun arrêté de zonage chargé n'est "
                f"en vigueur {when} dans la région de la structure ; les classes chargées sont celles des arrêtés "
                f"de 2022 (en vigueur jusqu'au {until} d'après l'outil). Donnez une date couverte (--date "
                "2025-05-01) ou ajoutez l'arrêté en vigueur (_zoning_orders.toml, voir docs/CONDITIONS.md).")
    return (f"Warning: {n} answers are 'to check' (at least) because no loaded zoning order is in force {when} "
            "in the structure's région; the loaded classes are those of the 2022 orders (in force until "
            f"{until} as far as the tool knows). Give a covered date (--date 2025-05-01) or add the order in "
            "force (_zoning_orders.toml, see docs/CONDITIONS.md).")


def batch_summary_lines(result: BatchResult, schemes: Mapping[str, Scheme], on: date | None = None,
                        lang: str = "fr") -> list[str]:
    """Lines summarising a batch: answers per scheme, the GP host status, errors, and why answers are open."""
    words = STATUS_WORDS[lang]
    fr = lang == "fr"
    lines = [f"Réponses par dispositif ({len(result.rows):,} structures)".replace(",", "\u202f") if fr
             else f"Answers per scheme ({len(result.rows):,} structures)"]
    table = result.summary({sid: sc.site_role for sid, sc in schemes.items()})
    names = {sid: sc.short(lang) for sid, sc in schemes.items()}
    shown = pd.DataFrame({words[s]: table[s] for s in ("eligible", "partner", *STATUSES[1:]) if s in table.columns})
    shown.index = [names.get(str(i), str(i)) for i in shown.index]
    shown.index.name = "dispositif" if fr else "scheme"
    lines += shown.to_string().splitlines()
    gp = result.summary_gp()
    label = ("Dispositifs de médecine générale, comme lieu d'exercice du poste (colonne statut_mg) : " if fr
             else "GP schemes, as the post's practice site (column statut_mg): ")
    lines.append(label + ", ".join(f"{words[str(s)]} {int(n)}" for s, n in gp.items()))
    if len(result.verdicts):
        warning = undated_warning(result.verdicts["reasons"].astype(str), on, lang)
        if warning:
            lines.append(warning)
    errors = result.rows.loc[result.rows["status"] == "error", "error"]
    if len(errors):
        lines.append(f"{len(errors)} lignes en erreur, les premières :" if fr
                     else f"{len(errors)} rows in error, first ones:")
        lines += [f"  {message}" for message in errors.head(10)]
    return lines


def application_lines(verdict: ApplicationVerdict, scheme: Scheme | None = None, lang: str = "fr") -> list[str]:
    """The verdict of one application: status, each condition failed or to check with its reason, funding."""
    words = STATUS_WORDS[lang]
    fr = lang == "fr"
    name = scheme.name(lang) if scheme is not None else verdict.scheme
    lines = [f"{name} : {words[verdict.status].upper()}" if fr else f"{name}: {words[verdict.status].upper()}"]
    if verdict.region:
        region = scheme.common.regions[verdict.region].name if scheme is not None and scheme.common is not None \
            and verdict.region in scheme.common.regions else verdict.region
        lines.append(f"Région : {region}" if fr else f"Région: {region}")
    sections = (
        (verdict.failures, "Conditions non remplies" if fr else "Conditions not met", "✗"),
        (verdict.reviews, "À vérifier" if fr else "To check", "?"),
    )
    for findings, title, mark in sections:
        if findings:
            lines.append(f"{title} :" if fr else f"{title}:")
            lines += [f"  {mark} {f.message_fr if fr else f.message_en}" for f in findings]
    if verdict.met:
        lines.append("Conditions remplies :" if fr else "Conditions met:")
        lines += [f"  ✓ {f.message_fr if fr else f.message_en}" for f in verdict.met]
    notes = list(verdict.notes)
    if notes:
        lines.append("Notes (sans incidence sur la réponse) :" if fr else "Notes (no effect on the answer):")
        lines += [f"  · {f.message_fr if fr else f.message_en}" for f in notes]
    if verdict.funding is not None:
        text = verdict.funding.message_fr if fr else verdict.funding.message_en
        lines.append(f"Financement : {text}" if fr else f"Funding: {text}")
    return lines


def _n(value: float, decimals: int = 0) -> str:
    return french_number(value, decimals)


def prioritisation_lines(result: Any, top: int = 10) -> list[str]:
    """A prioritisation run in French: settings, the top posts, the plan against the naive rule, per measure."""
    from zonage.rules import load_schemes
    from zonage.studies.prioritisation import MEASURE_FR, MEASURES

    s = result.summary
    schemes = load_schemes()
    asked = " + ".join(f"{n} {schemes[k].short('fr') if k in schemes else k}" for k, n in s["posts_asked"].items())
    lines = [
        f"{s['region_name']} ({s['region']}) : postes demandés {asked} ; {s['candidates']} structures "
        f"candidates (lieu d'exercice éligible) ; avant : {s['baseline']} (moyenne {_n(s['mean_access_before'], 2)}) ; "
        f"objectif : {s['objective_fr']} ; {len(s['models'])} modèles de trajet (moyenne)",
        f"{_n(s['population_under_threshold'])} habitants sous le seuil de {_n(s['settings']['threshold'], 1)} "
        "consultations par an et par habitant standardisé",
        f"Les {min(top, len(result.picks))} premiers postes :",
    ]
    for row in result.picks.head(top).itertuples():
        lines.append(f"  {row.rank}. {row.explanation}")
    lines.append("Plan optimisé / règle « APL le plus bas d'abord » (moyenne des modèles ; min–max) :")
    for m in MEASURES:
        g, n = s["measures_greedy"][m], s["measures_naive"][m]
        ratio = g["mean"] / n["mean"] if n["mean"] > 0 else math.nan
        lines.append(f"  {MEASURE_FR[m]} : {_n(g['mean'])} ({_n(g['min'])}–{_n(g['max'])}) contre {_n(n['mean'])} "
                     f"({_n(n['min'])}–{_n(n['max'])}), rapport {_n(ratio, 2)}")
    if "out_of_model" in s:
        lines.append("Hors modèle (chaque modèle de trajet écarté de l'optimisation puis pris pour juge) :")
        for m in MEASURES:
            o = s["out_of_model"][m]
            lines.append(f"  {MEASURE_FR[m]} : rapport moyen {_n(o['mean_ratio'], 2)}, "
                         f"minimum {_n(o['min_ratio'], 2)}")
    share = _n(100 * s["greedy_share_of_bound"], 1)
    lines.append(f"Le plan atteint au moins {share} % de l'optimum (borne certifiée) ; "
                 f"{_n(s['timings_s']['greedy'], 2)} s.")
    return lines
