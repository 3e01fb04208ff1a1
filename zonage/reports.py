"""Texts a planner reads: the summary of a batch and the verdict of an application, in French by default.

Pure functions returning lines of text (no printing, no computing beyond counting):
the CLI prints them, a notebook may display them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from zonage.eligibility import STATUSES, BatchResult
from zonage.numbers import count_fr, french_number
from zonage.rules import ApplicationVerdict, Scheme
from zonage.rules.model import ZoningOrder

if TYPE_CHECKING:
    from zonage.studies.check import CheckResult

__all__ = ["STATUS_WORDS", "application_lines", "batch_summary_lines", "check_lines", "format_eur",
           "prioritisation_lines", "undated_warning"]

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


def loaded_default_order() -> ZoningOrder | None:
    """The national default zoning order whose classes are loaded (``_zoning_orders.toml``), latest end first.

    The order without régions of its own and with a ``vintage`` (its classes are in the
    zoning layer): what the warnings and the maps' sources line name.
    """
    from zonage.rules import load_schemes

    schemes = load_schemes()
    common = next(iter(schemes.values())).common if schemes else None
    if common is None:
        return None
    loaded = [o for o in common.zoning_orders if o.vintage and not o.regions]
    return max(loaded, key=lambda o: o.end or date.max) if loaded else None


def undated_warning(reasons: pd.Series, on: date | None = None, lang: str = "fr") -> str | None:
    """The warning when answers are open because no loaded zoning order is in force at the date (else None).

    ``reasons``: the reason codes of the verdicts (a ``raisons_*`` column or the long table's).
    """
    n = int(reasons.astype(str).str.contains("|".join(_UNDATED)).sum())
    if not n:
        return None
    fr = lang == "fr"
    order = loaded_default_order()
    until = _day(order.end, lang) if order is not None and order.end is not None else "?"
    loaded = order.label(lang) if order is not None else ("arrêté inconnu" if fr else "unknown order")
    example = order.end.isoformat() if order is not None and order.end is not None else "AAAA-MM-JJ"
    when = (f"le {_day(on, lang)}" if fr else f"on {_day(on, lang)}") if on is not None else \
        ("à la date de la question" if fr else "on the question's date")
    if fr:
        answers = f"{n} réponses sont" if n > 1 else "1 réponse est"
        return (f"Attention : {answers} « à vérifier » (au moins) parce qu'aucun arrêté de zonage chargé n'est "
                f"en vigueur {when} dans la région de la structure ; les classes chargées sont celles de l'"
                f"{loaded} (en vigueur jusqu'au {until} d'après l'outil). Donnez une date couverte (--date "
                f"{example}) ou ajoutez l'arrêté en vigueur (_zoning_orders.toml, voir docs/CONDITIONS.md).")
    answers = f"{n} answers are" if n > 1 else "1 answer is"
    return (f"Warning: {answers} 'to check' (at least) because no loaded zoning order is in force {when} "
            f"in the structure's région; the loaded classes are those of the {loaded} (in force until {until} as "
            f"far as the tool knows). Give a covered date (--date {example}) or add the order in force "
            "(_zoning_orders.toml, see docs/CONDITIONS.md).")


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
        lines.append(f"{count_fr(len(errors), 'ligne')} en erreur, les premières :" if fr
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
    asked = " + ".join(f"{n} × {schemes[k].short('fr') if k in schemes else k}" for k, n in s["posts_asked"].items())
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


# --------------------------------------------------------------------------- one place (zonage check)
def _text(value: object) -> str:
    """A cell as text ("" for missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return ""
    return str(value)


def _region(result: CheckResult, insee: str) -> tuple[str | None, str]:
    """Code and name of the région of commune ``insee``."""
    common = next(iter(result.schemes.values())).common if result.schemes else None
    if common is None or not insee:
        return None, ""
    department = insee[:3] if insee.startswith("97") else insee[:2]
    code = common.departement_regions().get(department)
    region = common.regions.get(code) if code else None
    return code, region.name if region is not None else (code or "")


def _degrees(value: float) -> str:
    return f"{value:.5f}".replace(".", ",")


def check_lines(result: CheckResult) -> list[str]:
    """The answer as French lines: where the point is (commune, QPV, zoning class and order), then each scheme."""
    row = result.row
    lines = list(result.notes)
    if result.query:
        lines.append(f"Adresse : {result.query}")
    point = row.geometry
    where = f"{_degrees(point.x)} E, {_degrees(point.y)} N" if point is not None and not point.is_empty else ""
    if result.backend:
        label = _text(row.get("geo_label"))
        kind = {"housenumber": "numéro", "street": "rue", "locality": "lieu-dit",
                "municipality": "commune seulement"}.get(_text(row.get("geo_type")), _text(row.get("geo_type")))
        score = row.get("geo_score")
        score_text = f", score {float(score):.2f}".replace(".", ",") if score is not None and pd.notna(score) else ""
        lines.append(f"Trouvé : {label} (géocodeur {result.backend} : {kind}{score_text})"
                     + (f" — {where}" if where and kind != "commune seulement" else ""))
    elif where:
        lines.append(f"Point : {where}")
    insee = _text(row.get("insee"))
    region_code, region_name = _region(result, insee)
    arm = _text(row.get("insee_arm"))
    commune = f"Commune : {_text(row.get('commune_nom'))} ({insee})"
    if arm:
        commune += f", arrondissement {arm}"
    if region_name:
        commune += f", région {region_name}"
    method = _text(row.get("commune_method"))
    if method == "overlap":
        commune += " (point sur un chevauchement de deux contours : commune où il est le plus profond)"
    elif method == "nearest":
        commune += " (point hors de tout contour : commune la plus proche, à moins de 250 m)"
    boundary = row.get("commune_boundary_m")
    if boundary is not None and pd.notna(boundary):
        commune += f" — à {float(boundary):.0f} m de la limite communale"
    lines.append(commune)
    common = next(iter(result.schemes.values())).common if result.schemes else None
    in_force = common.generation_in_force(result.on, overseas=_text(row.get("territory")) not in ("", "metro")) \
        if common is not None else None
    qpv_parts: list[str] = []
    other_parts: list[str] = []
    for column in sorted((c for c in row.index if re.fullmatch(r"qpv\d{4}", str(c))), reverse=True):
        code = _text(row.get(column))
        if code:
            text = f"{code} {result.qpv_names.get(code, '')} (QPV {column[3:]})".replace("  ", " ")
            (qpv_parts if in_force is None or column == f"qpv{in_force}" else other_parts).append(text)
    reasons = " ".join(_text(row.get(f"raisons_{sid}")) for sid in result.schemes)
    generation = f" {in_force}" if in_force else ""
    if method == "commune":
        lines.append("QPV : inconnu (seule la commune est connue)")
    elif "QPV_NOT_COVERED" in reasons:
        lines.append(f"QPV{generation} : inconnu (contours non disponibles pour cette région dans l'outil)")
    elif qpv_parts:
        lines.append(f"QPV en vigueur{generation} : " + " ; ".join(qpv_parts))
    else:
        lines.append(f"QPV en vigueur{generation} : aucun")
    if other_parts:
        lines.append("  (autre génération, pas en vigueur à cette date : " + " ; ".join(other_parts) + ")")
    classe = _text(row.get("classe"))
    classe = {"mixed": "mixte (selon l'arrondissement ou le QPV)", "unknown": "inconnue (commune absente du zonage "
              "chargé)"}.get(classe, classe)
    source = {"commune": "classe de la commune", "arrondissement": "classe de l'arrondissement",
              "qpv": "classe propre du QPV"}.get(_text(row.get("classe_source")), _text(row.get("classe_source")))
    common = next(iter(result.schemes.values())).common if result.schemes else None
    order = common.zoning_order(region_code, result.on) if common is not None else None
    loaded = None
    if common is not None and result.zoning_vintage is not None:
        own = [o for o in common.zoning_orders if region_code is not None and region_code in o.regions]
        pool = own or [o for o in common.zoning_orders if not o.regions]
        loaded = next((o for o in pool if o.vintage == result.zoning_vintage), None)
    day = result.on.strftime("%d/%m/%Y")
    zoning = f"Zonage des médecins : {classe} ({source}"
    if loaded is not None:
        zoning += f" ; {loaded.label('fr')}"
    elif result.zoning_vintage:
        zoning += f" ; classes du millésime {result.zoning_vintage}"
    if order is None:
        zoning += f", alors qu'aucun arrêté connu de l'outil n'est en vigueur le {day} : réponses à vérifier)"
    elif loaded is not None and order.id != loaded.id:
        zoning += f", alors que l'arrêté en vigueur le {day} est : {order.label('fr')}, dont les classes ne sont pas " \
                  "chargées)"
    else:
        zoning += f", en vigueur le {day})"
    lines.append(zoning)
    kind = _text(row.get("type_libelle"))
    if kind:
        lines.append(f"Type de structure : {kind}")
    lines.append(f"Réponse par dispositif (date de la question : {day}) :")
    for sid, scheme in result.schemes.items():
        status = _text(row.get(f"statut_{sid}"))
        if not status:
            continue
        message = _text(row.get(f"message_{sid}"))
        word = STATUS_WORDS["fr"].get(status, status)
        if message.startswith(f"{word} : "):  # the sentence starts with the status, printed in capitals here
            message = message[len(word) + 3:]
        role_id = _text(row.get(f"role_{sid}"))
        if status == "eligible" and role_id and role_id != scheme.site_role and role_id in scheme.roles:
            word = f"{word} comme {scheme.roles[role_id].label('fr')}"
        lead = f"  {scheme.short('fr')} : {word.upper()}"
        lines.append(f"{lead} — {message}" if message else lead)
    summary = _text(row.get("resume"))
    if summary:
        lines.append(f"En bref : {summary}")
    if order is None or (loaded is not None and order.id != loaded.id):
        default = loaded_default_order()
        example = default.end.isoformat() if default is not None and default.end is not None else "AAAA-MM-JJ"
        lines.append("Pour une réponse ferme, donner une date où les classes chargées sont en vigueur (--date "
                     f"{example}) ou ajouter l'arrêté en vigueur (_zoning_orders.toml, voir docs/CONDITIONS.md).")
    return lines
