"""The doctors' (GP) zoning layer: a ZIP/ZAC/ZAR/HZ class per commune and per QPV.

The national zoning export has no INSEE code: its rows are keyed by postcode and
name, and the names may be those of current communes, of communes déléguées or
associées (old communes inside a merged one) or of Paris/Lyon/Marseille
arrondissements. Each row is matched to a COG 2025 entry of the etalab
``decoupage-administratif`` list, in passes of decreasing certainty (a row takes the
first pass that gives it exactly one commune):

1. ``exact``: same postcode and same normalised name (:func:`zonage.names.normalise_name`);
2. ``exact_loose``: same postcode, names equal once the leading article and spaces
   are dropped (:func:`zonage.names.loose_name_key`): "La Ville-aux-Bois" / "Ville-aux-Bois";
3. ``postcode_prefix``: same postcode, one name is the other plus words, the usual
   trace of a renaming ("Faux" → "Faux-en-Périgord", "Parsac-Rimondeix" → "Parsac");
4. ``departement`` / ``departement_loose``: the name is unique in the postcode's
   département(s) (postcodes that the COG list does not give to the commune);
5. ``fuzzy``: clearly closest name (:mod:`difflib`) in the same postcode (ratio ≥ 0.8),
   else in the département (≥ 0.88, same initial): spelling variants
   ("Salerm" / "Salherm");
6. ``postcode_word``: same postcode and a shared significant word, preferring
   communes that have no row yet: renamings and communes nouvelles
   ("Verdun-sur-le-Doubs" → "Verdun-Ciel").

A name found as a current commune wins over a commune déléguée or associée of the
same name. Matched entries resolve to their 2025 commune (``chef_lieu``);
arrondissements keep their own code in ``insee_arm``. Several source rows may land
on one commune (several postcodes, several déléguées): identical classes collapse
to one row; different classes are a *conflict*, resolved to the most favourable
class (:data:`zonage.sources.zoning.CLASSES` order) and flagged.

Communes re-created in 2025 out of a commune nouvelle (:data:`RESTORED_COMMUNES`)
inherit the class of the commune they were part of (``restored_from_parent``).

Outputs: ``zoning_communes`` (one row per COG 2025 commune of metropolitan France and
the DROM, Paris/Lyon/Marseille by arrondissement; communes absent from the source
get class ``unknown``) and ``zoning_qpv`` (QPV-level classes of the ARS PACA order).
Both carry ``vintage``, ``region`` and ``source`` so several vintages and regional
orders can be stacked.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import numpy as np
import pandas as pd

from zonage.layers.pipeline import BuildInputs, LayerResult, LayerSpec
from zonage.names import loose_name_keys, normalise_names
from zonage.sources.cog import ARRONDISSEMENT, ASSOCIATED, CURRENT, DELEGATED, read_cog_entries
from zonage.sources.zoning import CLASSES, UNKNOWN, read_zoning_communes, read_zoning_qpv

#: Vintage label of the national commune-level export (regional zonings of 2022 in
#: force until the 2026 orders, exported in May 2025).
COMMUNES_VINTAGE = "2025"
#: Vintage label of the ARS PACA QPV order.
QPV_VINTAGE = "2025"
#: Region of the QPV order (Provence-Alpes-Côte d'Azur).
QPV_REGION = "93"

#: Matching passes, most certain first.
METHODS: tuple[str, ...] = ("exact", "exact_loose", "postcode_prefix", "departement",
                            "departement_loose", "fuzzy", "postcode_word")
#: How a source name relates to its 2025 commune, most authoritative first.
RELATIONS: tuple[str, ...] = ("current", "arrondissement", "deleguee", "associee")
_RELATION_OF_TYPE = {CURRENT: "current", ARRONDISSEMENT: "arrondissement",
                     DELEGATED: "deleguee", ASSOCIATED: "associee"}
#: Zones of the COG whose communes the output must cover (not the COM overseas).
_COVERED_ZONES = ("metro", "drom")
#: difflib ratio needed for a fuzzy match within the postcode / within the département.
FUZZY_POSTCODE_CUTOFF = 0.8
FUZZY_DEPARTEMENT_CUTOFF = 0.88
#: Communes re-created on 1 January 2025 out of a commune nouvelle ("rétablissement"):
#: lists made before then have no row for them; they inherit the class of the commune
#: they were part of (Celles, Chalinargues, Chavagnac, Sainte-Anastasie left
#: Neussargues en Pinatelle, 15141, now Neussargues-Moissac again).
RESTORED_COMMUNES: dict[str, str] = {"15031": "15141", "15035": "15141", "15047": "15141",
                                     "15171": "15141"}
#: Unmatched rows listed in full in the report up to this many.
_LIST_LIMIT = 500

COMMUNE_COLUMNS: tuple[str, ...] = (
    "code", "insee", "insee_arm", "nom", "departement", "region", "classe", "classe_source",
    "conflict", "classes_seen", "postcodes", "source_names", "n_source_rows", "match_method",
    "match_relation", "vintage", "source",
)
QPV_COLUMNS: tuple[str, ...] = (
    "code_qp", "lib_qp", "classe", "classe_source", "insee_com", "insee_known", "departement",
    "region", "vintage", "source",
)


def candidate_names(entries: pd.DataFrame) -> pd.DataFrame:
    """Every COG name that a zoning row may use, with its postcodes and 2025 target.

    Parameters
    ----------
    entries
        :func:`zonage.sources.cog.read_cog_entries`.

    Returns
    -------
    pandas.DataFrame
        One row per entry and postcode: ``code`` (entry code), ``insee`` (2025
        commune), ``insee_arm`` (arrondissement code or None), ``relation``,
        ``rank`` (index in :data:`RELATIONS`), ``nom``, ``key``, ``loose``,
        ``departement``, ``postcode``. Communes déléguées and associées, which have no
        postcode of their own, take those of their 2025 commune.
    """
    kept = entries[entries["type"].isin(_RELATION_OF_TYPE)].copy()
    kept["relation"] = kept["type"].map(_RELATION_OF_TYPE)
    kept["insee"] = kept["chef_lieu"].where(kept["chef_lieu"].notna(), kept["code"]).astype(str)
    kept["insee_arm"] = kept["code"].where(kept["relation"] == "arrondissement")
    own = kept.set_index("code")["codes_postaux"]
    current_postcodes = own[~own.index.duplicated()]
    inherited = kept["insee"].map(current_postcodes)
    needs = kept["codes_postaux"].map(len) == 0
    kept.loc[needs, "codes_postaux"] = inherited[needs].map(
        lambda v: v if isinstance(v, tuple) else ())
    kept["rank"] = kept["relation"].map({r: i for i, r in enumerate(RELATIONS)})
    kept["key"] = normalise_names(kept["nom"])
    kept["loose"] = loose_name_keys(kept["key"], normalised=True)
    kept = kept.explode("codes_postaux").rename(columns={"codes_postaux": "postcode"})
    columns = ["code", "insee", "insee_arm", "relation", "rank", "nom", "key", "loose",
               "departement", "region", "postcode"]
    return kept[columns].reset_index(drop=True)


def _postcode_departements(postcodes: pd.Series, candidates: pd.DataFrame) -> pd.DataFrame:
    """Départements a postcode may belong to: those of the COG entries using it + its prefix."""
    unique = pd.Series(pd.unique(postcodes.dropna()), dtype=object)
    from_cog = candidates[["postcode", "departement"]].dropna().drop_duplicates()
    from_cog = from_cog[from_cog["postcode"].isin(unique)]
    prefix = unique.str[:2]
    by_prefix = np.where(prefix == "97", unique.str[:3], prefix)
    corsica = unique[prefix == "20"]
    rows = [
        from_cog,
        pd.DataFrame({"postcode": unique, "departement": by_prefix}),
        pd.DataFrame({"postcode": corsica, "departement": "2A"}),
        pd.DataFrame({"postcode": corsica, "departement": "2B"}),
    ]
    return pd.concat(rows, ignore_index=True).drop_duplicates().reset_index(drop=True)


def _pick(joined: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """From (line, candidate) pairs keep, per line, the best-ranked target if it is unique.

    Returns the chosen pairs (one per line) and the lines whose best rank points to
    two different communes (ambiguous).
    """
    if joined.empty:
        return joined, pd.Index([])
    best = joined.groupby("line")["rank"].transform("min")
    top = joined[joined["rank"] == best].drop_duplicates(["line", "insee", "insee_arm"])
    counts = top.groupby("line")["insee"].transform("size")
    ambiguous = pd.Index(top.loc[counts > 1, "line"].unique())
    return top[counts == 1], ambiguous


_STOP_WORDS = frozenset({"saint", "sainte", "saints", "saintes", "sur", "sous", "les", "lez",
                         "pres", "dans", "aux", "en", "de", "du", "des", "la", "le", "l", "d",
                         "et", "val", "mont", "bois"})


def _words(key: str) -> list[str]:
    words = key.split()
    if len(words) > 1 and words[0] in ("les", "le", "la", "l"):
        words = words[1:]
    return words


def _is_word_prefix(a: str, b: str) -> bool:
    """Whether the words of one name start the other (``"faux"`` / ``"faux en perigord"``)."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb or wa == wb:
        return False
    short, long = (wa, wb) if len(wa) < len(wb) else (wb, wa)
    return long[: len(short)] == short and any(w not in _STOP_WORDS for w in short)


def _share_word(a: str, b: str) -> bool:
    """Whether two names share a significant word (4+ letters, not ``saint``, ``sur``…)."""
    sa = {w for w in _words(a) if len(w) >= 4 and w not in _STOP_WORDS}
    return bool(sa & set(_words(b)))


def _similar(key: str, pool: pd.DataFrame, cutoff: float, *, same_initial: bool) -> pd.DataFrame:
    """Candidates of ``pool`` whose key is the single clear best difflib match of ``key``."""
    keys = [k for k in pd.unique(pool["key"]) if not same_initial or k[:1] == key[:1]]
    if not keys or not key:
        return pool.iloc[0:0]
    scores = sorted(((difflib.SequenceMatcher(None, key, k).ratio(), k) for k in keys),
                    reverse=True)
    score, best = scores[0]
    runner_up = scores[1][0] if len(scores) > 1 else 0.0
    if score < cutoff or score - runner_up < 0.05:
        return pool.iloc[0:0]
    return pool[pool["key"] == best]


def _pairs(todo: pd.DataFrame, candidates: pd.DataFrame, on: str) -> pd.DataFrame:
    """Every (row, candidate) pair sharing ``on`` (postcode or département)."""
    left = todo[["line", on, "key"]].rename(columns={"key": "row_key"})
    return left.merge(candidates[[on, "key", "code", "insee", "insee_arm", "relation", "rank"]],
                      on=on)


def _fuzzy(todo: pd.DataFrame, candidates: pd.DataFrame, with_dep: pd.DataFrame) -> pd.DataFrame:
    """Match each row to the clearly closest name nearby (difflib).

    The pool is the row's postcode first (ratio ≥ :data:`FUZZY_POSTCODE_CUTOFF`), then
    its département(s) (ratio ≥ :data:`FUZZY_DEPARTEMENT_CUTOFF`, same initial); the
    best name must beat the runner-up by 0.05.
    """
    chosen: list[dict] = []
    if todo.empty:
        return pd.DataFrame(chosen, columns=["line", "code", "insee", "insee_arm", "relation",
                                             "rank"])
    deps = with_dep[with_dep["line"].isin(todo["line"])].groupby("line")["departement"].agg(list)
    near = candidates[candidates["postcode"].isin(todo["postcode"])]
    by_postcode = dict(tuple(near.groupby("postcode")))
    wide = candidates[candidates["departement"].isin({d for ds in deps for d in ds})]
    by_dep = dict(tuple(wide.groupby("departement")))
    for line, postcode, key in zip(todo["line"], todo["postcode"], todo["key"], strict=True):
        pool = by_postcode.get(postcode)
        hits = candidates.iloc[0:0]
        if pool is not None:
            hits = _similar(key, pool, FUZZY_POSTCODE_CUTOFF, same_initial=False)
        if hits.empty:
            parts = [by_dep[d] for d in deps.get(line, []) if d in by_dep]
            if parts:
                hits = _similar(key, pd.concat(parts), FUZZY_DEPARTEMENT_CUTOFF,
                                same_initial=True)
        if hits.empty:
            continue
        hits = hits[hits["rank"] == hits["rank"].min()]
        if hits["insee"].nunique() == 1 and hits["insee_arm"].nunique(dropna=False) == 1:
            hit = hits.iloc[0]
            chosen.append({"line": line, "code": hit["code"], "insee": hit["insee"],
                           "insee_arm": hit["insee_arm"], "relation": hit["relation"],
                           "rank": hit["rank"]})
    columns = ["line", "code", "insee", "insee_arm", "relation", "rank"]
    return pd.DataFrame(chosen, columns=columns)


def match_rows(rows: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Match zoning rows (postcode + name) to COG 2025 communes.

    Parameters
    ----------
    rows
        :func:`zonage.sources.zoning.read_zoning_communes`.
    candidates
        :func:`candidate_names`.

    Returns
    -------
    pandas.DataFrame
        ``rows`` with ``key``, ``insee``, ``insee_arm``, ``matched_code`` (the COG entry
        whose name matched), ``match_relation``, ``match_method`` (one of
        :data:`METHODS`, or None) and ``unmatched_reason`` (``"invalid postcode"``,
        ``"ambiguous"``, ``"no candidate"`` or None).
    """
    rows = rows.copy()
    rows["key"] = normalise_names(rows["name"])
    rows["loose"] = loose_name_keys(rows["key"], normalised=True)
    result = pd.DataFrame(index=pd.Index(rows["line"]),
                          columns=["code", "insee", "insee_arm", "relation", "match_method"],
                          dtype=object)
    ambiguous: set[int] = set()
    dep_of = _postcode_departements(rows["postcode"], candidates)
    with_dep = rows.merge(dep_of, on="postcode", how="inner")

    def pending(frame: pd.DataFrame) -> pd.DataFrame:
        done = result.index[result["match_method"].notna()]
        return frame[~frame["line"].isin(done) & (frame["key"] != "")]

    def record(picked: pd.DataFrame, method: str) -> None:
        picked = picked.set_index("line")
        for column in ("code", "insee", "insee_arm", "relation"):
            result.loc[picked.index, column] = picked[column]
        result.loc[picked.index, "match_method"] = method

    def equal_pass(method: str, left: pd.DataFrame, on: list[str]) -> None:
        joined = pending(left)[["line", *on]].merge(
            candidates[[*on, "code", "insee", "insee_arm", "relation", "rank"]], on=on)
        picked, ambiguous_here = _pick(joined)
        ambiguous.update(ambiguous_here)
        record(picked, method)

    def pair_pass(method: str, test: Callable[[str, str], bool], *, orphans: bool) -> None:
        pairs = _pairs(pending(rows), candidates, "postcode")
        keep = [test(a, b) for a, b in zip(pairs["row_key"], pairs["key"], strict=True)]
        pairs = pairs[np.asarray(keep, dtype=bool)]
        picked, ambiguous_here = _pick(pairs)
        if orphans and len(ambiguous_here):
            # Several communes of the postcode share the word: keep those with no row yet.
            taken = set(result["insee"].dropna())
            retry = pairs[pairs["line"].isin(ambiguous_here) & ~pairs["insee"].isin(taken)]
            more, ambiguous_here = _pick(retry)
            picked = pd.concat([picked, more])
        ambiguous.update(ambiguous_here)
        record(picked, method)

    equal_pass("exact", rows, ["postcode", "key"])
    equal_pass("exact_loose", rows, ["postcode", "loose"])
    pair_pass("postcode_prefix", _is_word_prefix, orphans=True)
    equal_pass("departement", with_dep, ["departement", "key"])
    equal_pass("departement_loose", with_dep, ["departement", "loose"])
    todo = pending(rows)
    todo = todo[todo["postcode"].notna()]
    record(_fuzzy(todo, candidates, with_dep), "fuzzy")
    pair_pass("postcode_word", _share_word, orphans=True)

    ambiguous -= set(result.index[result["match_method"].notna()])
    out = rows.drop(columns=["loose"]).join(
        result.rename(columns={"code": "matched_code", "relation": "match_relation"}), on="line")
    unmatched = out["match_method"].isna()
    reason = np.where(out["postcode"].isna(), "invalid postcode",
                      np.where(out["line"].isin(ambiguous), "ambiguous", "no candidate"))
    out["unmatched_reason"] = pd.Series(reason, index=out.index).where(unmatched)
    out["insee_arm"] = out["insee_arm"].where(out["insee_arm"].notna(), None)
    return out


def _joined(frame: pd.DataFrame, column: str) -> pd.Series:
    """Sorted distinct values of ``column`` per ``code``, joined with ``;``."""
    part = frame[["code", column]].dropna().astype(object).drop_duplicates()
    part = part.sort_values(["code", column])
    several = part["code"].duplicated(keep=False)
    # Most communes have one value: join in Python only where there are several.
    single = part[~several].set_index("code")[column]
    joined = part[several].groupby("code", sort=True)[column].agg(";".join)
    return pd.concat([single, joined]).sort_index()


def aggregate_communes(matched: pd.DataFrame) -> pd.DataFrame:
    """Collapse matched rows to one row per commune (or arrondissement).

    The class is the most favourable known class seen (:data:`CLASSES` order),
    ``unknown`` only when every row is unknown; ``conflict`` is True when two
    different known classes were seen; ``match_method`` is the least certain method
    among the rows.
    """
    class_rank = {c: i for i, c in enumerate(CLASSES)}
    method_rank = {m: i for i, m in enumerate(METHODS)}
    done = matched[matched["match_method"].notna()].copy()
    done["code"] = done["insee_arm"].where(done["insee_arm"].notna(), done["insee"])
    done["class_rank"] = done["classe"].map(class_rank)
    done["method_rank"] = done["match_method"].map(method_rank)
    done = done.sort_values(["code", "class_rank", "line"])
    group = done.groupby("code", sort=True)
    first = group.first()
    known = done[done["classe"] != UNKNOWN]
    n_known = known.groupby("code")["classe"].nunique().reindex(first.index, fill_value=0)
    worst = group["method_rank"].max().map(dict(enumerate(METHODS)))
    return pd.DataFrame({
        "code": first.index,
        "insee": first["insee"].to_numpy(),
        "insee_arm": first["insee_arm"].to_numpy(),
        "classe": first["classe"].to_numpy(),
        "classe_source": first["classe_source"].to_numpy(),
        "conflict": (n_known > 1).to_numpy(),
        "classes_seen": _joined(done, "classe").reindex(first.index).to_numpy(),
        "postcodes": _joined(done, "postcode").reindex(first.index).fillna("").to_numpy(),
        "source_names": _joined(done, "name").reindex(first.index).fillna("").to_numpy(),
        "n_source_rows": group.size().to_numpy(),
        "match_method": worst.to_numpy(),
        "match_relation": _joined(done, "match_relation").reindex(first.index).to_numpy(),
    })


def _restored_rows(agg: pd.DataFrame, missing: pd.DataFrame) -> pd.DataFrame:
    """Rows for communes of :data:`RESTORED_COMMUNES` without a row, copied from their parent."""
    parents = agg.set_index("code")
    todo = missing[missing["code"].map(RESTORED_COMMUNES).isin(parents.index)]
    if todo.empty:
        return agg.iloc[0:0]
    rows = parents.loc[pd.Index(todo["code"].map(RESTORED_COMMUNES))].reset_index(drop=True)
    rows["code"] = todo["code"].to_numpy()
    rows["insee"] = todo["code"].to_numpy()
    rows["insee_arm"] = None
    rows["match_method"] = "restored_from_parent"
    rows["match_relation"] = "restored:" + todo["code"].map(RESTORED_COMMUNES).to_numpy()
    return rows[agg.columns]


def _covered_units(entries: pd.DataFrame) -> pd.DataFrame:
    """Communes the output must cover.

    These are the COG 2025 communes of metropolitan France and the DROM, with Paris,
    Lyon and Marseille replaced by their arrondissements.
    """
    zone = entries["zone"].isin(_COVERED_ZONES)
    arr = entries[(entries["type"] == ARRONDISSEMENT) & zone]
    current = entries[(entries["type"] == CURRENT) & zone & ~entries["code"].isin(arr["chef_lieu"])]
    units = pd.concat([
        pd.DataFrame({"code": current["code"], "insee": current["code"], "insee_arm": None}),
        pd.DataFrame({"code": arr["code"], "insee": arr["chef_lieu"], "insee_arm": arr["code"]}),
    ], ignore_index=True)
    return units


def zoning_communes_table(rows: pd.DataFrame, entries: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Build the ``zoning_communes`` table and its report.

    Parameters
    ----------
    rows
        :func:`zonage.sources.zoning.read_zoning_communes`.
    entries
        :func:`zonage.sources.cog.read_cog_entries`.

    Returns
    -------
    table
        Columns :data:`COMMUNE_COLUMNS`, one row per commune or arrondissement
        (``code`` unique: the arrondissement code where there is one, else ``insee``).
    report
        JSON-able: rows in/matched, match rate, rows per method, unmatched rows,
        conflicts, communes without a zoning row, counts per class.
    """
    candidates = candidate_names(entries)
    matched = match_rows(rows, candidates)
    agg = aggregate_communes(matched)
    units = _covered_units(entries)
    missing = units[~units["code"].isin(agg["code"])]
    restored = _restored_rows(agg, missing)
    agg = pd.concat([agg, restored], ignore_index=True)
    missing = missing[~missing["code"].isin(agg["code"])].copy()
    missing_rows = pd.DataFrame({
        "code": missing["code"], "insee": missing["insee"], "insee_arm": missing["insee_arm"],
        "classe": UNKNOWN, "classe_source": None, "conflict": False, "classes_seen": "",
        "postcodes": "", "source_names": "", "n_source_rows": 0,
        "match_method": "no_source_row", "match_relation": "",
    })
    table = pd.concat([agg, missing_rows], ignore_index=True)
    info = entries.drop_duplicates("code").set_index("code")
    table["nom"] = table["code"].map(info["nom"])
    table["departement"] = table["code"].map(info["departement"])
    table["region"] = table["code"].map(info["region"])
    table["vintage"] = COMMUNES_VINTAGE
    table["source"] = "zoning_communes"
    table["n_source_rows"] = table["n_source_rows"].astype("int64")
    table["conflict"] = table["conflict"].astype(bool)
    table["insee_arm"] = table["insee_arm"].astype(object).where(table["insee_arm"].notna(), None)
    table = table[list(COMMUNE_COLUMNS)].sort_values("code").reset_index(drop=True)
    report = _communes_report(matched, table, missing, info)
    return table, report


def _communes_report(matched: pd.DataFrame, table: pd.DataFrame, missing: pd.DataFrame,
                     info: pd.DataFrame) -> dict:
    n_in = len(matched)
    ok = matched["match_method"].notna()
    unmatched = matched[~ok]
    unmatched_list = [
        {"line": int(line), "postcode": postcode, "name": name, "classe_source": classe, "reason": reason}
        for line, postcode, name, classe, reason in zip(
            unmatched["line"], unmatched["postcode_source"], unmatched["name"], unmatched["classe_source"],
            unmatched["unmatched_reason"], strict=True,
        )
    ]
    conflicts = []
    code_col = matched["insee_arm"].where(matched["insee_arm"].notna(), matched["insee"])
    for row in table[table["conflict"]].itertuples(index=False):
        part = matched[ok & (code_col == row.code)]
        conflicts.append({
            "code": row.code, "nom": row.nom, "chosen": row.classe,
            "rows": [{"postcode": r.postcode_source, "name": r.name, "classe": r.classe,
                      "relation": r.match_relation, "method": r.match_method}
                     for r in part.itertuples(index=False)],
        })
    approximate = matched[ok & ~matched["match_method"].isin(["exact", "exact_loose"])]
    missing_region = missing["code"].map(info["region"]).value_counts().sort_index()
    population = table["code"].map(info["population"]).fillna(0)
    share = population.groupby(table["classe"]).sum() / max(population.sum(), 1)
    return {
        "rows_in": n_in,
        "rows_matched": int(ok.sum()),
        "match_rate": round(float(ok.mean()) if n_in else 0.0, 6),
        "rows_by_method": {m: int((matched["match_method"] == m).sum()) for m in METHODS},
        "rows_by_relation": {k: int(v) for k, v in
                             matched["match_relation"].value_counts().sort_index().items()},
        "unmatched_count": len(unmatched_list),
        "unmatched": unmatched_list[:_LIST_LIMIT],
        "approximate_matches": [
            {"postcode": r.postcode_source, "name": r.name, "method": r.match_method,
             "matched_code": r.matched_code, "matched_name": info["nom"].get(r.matched_code)}
            for r in approximate.drop_duplicates(["postcode", "name"]).itertuples(index=False)
        ][:_LIST_LIMIT],
        "conflict_count": len(conflicts),
        "conflicts": conflicts,
        "communes_with_unknown_and_known_rows": int(
            (table["classes_seen"].str.contains(UNKNOWN) & (table["classe"] != UNKNOWN)).sum()),
        "output_rows": len(table),
        "communes_without_zoning_row": {
            "count": len(missing),
            "by_region": {str(k): int(v) for k, v in missing_region.items()},
            "codes": sorted(missing["code"])[:_LIST_LIMIT],
        },
        "classes": {c: int((table["classe"] == c).sum()) for c in CLASSES},
        "population_share_by_class": {c: round(float(share.get(c, 0.0)), 4) for c in CLASSES},
    }


def zoning_qpv_table(qpv: pd.DataFrame, entries: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Build the ``zoning_qpv`` table (one row per QPV and commune) and its report.

    Parameters
    ----------
    qpv
        :func:`zonage.sources.zoning.read_zoning_qpv`.
    entries
        :func:`zonage.sources.cog.read_cog_entries`, to check the commune codes.
    """
    current = entries[entries["type"] == CURRENT].set_index("code")
    table = qpv.copy()
    table["insee_known"] = table["insee_com"].isin(current.index)
    table["departement"] = table["insee_com"].map(current["departement"]).fillna(
        table["insee_com"].str[:2])
    table["region"] = QPV_REGION
    table["vintage"] = QPV_VINTAGE
    table["source"] = "zoning_qpv_paca"
    table = table[list(QPV_COLUMNS)].reset_index(drop=True)
    per_qpv = table.drop_duplicates("code_qp")
    classes_per_qpv = table.groupby("code_qp")["classe"].nunique()
    report = {
        "rows": len(table),
        "qpv": int(per_qpv["code_qp"].nunique()),
        "by_class": {k: int(v) for k, v in per_qpv["classe"].value_counts().sort_index().items()},
        "qpv_spanning_several_communes": int((table.groupby("code_qp").size() > 1).sum()),
        "qpv_with_two_classes": sorted(classes_per_qpv[classes_per_qpv > 1].index),
        "unknown_communes": sorted(table.loc[~table["insee_known"], "insee_com"].unique()),
    }
    return table, report


def _build(inputs: BuildInputs) -> LayerResult:
    entries = read_cog_entries(inputs.source("decoupage_administratif"))
    rows = read_zoning_communes(inputs.source("zoning_communes"))
    communes, communes_report = zoning_communes_table(rows, entries)
    qpv, qpv_report = zoning_qpv_table(read_zoning_qpv(inputs.source("zoning_qpv_paca")), entries)
    return LayerResult(
        frames={"zoning_communes": communes, "zoning_qpv": qpv},
        report={**communes_report, "qpv": qpv_report},
        vintage="zoning export 2025 (regional GP zonings of 2022); ARS PACA QPV order 2025",
    )


SPEC = LayerSpec(
    name="zoning",
    description="GP zoning class (ZIP/ZAC/ZAR/HZ) per COG 2025 commune or arrondissement, "
                "and per QPV (ARS PACA)",
    sources=("zoning_communes", "zoning_qpv_paca", "decoupage_administratif"),
    build=_build,
)
