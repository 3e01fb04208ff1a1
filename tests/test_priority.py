"""Territory scoring and zoning simulation (issue 6): toy régions by hand, then the real data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonage.priority import (
    PriorityConfigError,
    build_inputs,
    compare_zoning,
    confusion_matrix,
    load_config,
    score_territories,
    simulate_zoning,
    territories_scores,
)
from zonage.priority.scoring import aggregate_territories

# ---------------------------------------------------------------------------- toy data
# One row per commune: (insee, région, BV, EPCI, population, APL, standardised population)
# Région R1 (caps 41 %): A national (two communes, weighted APL exactly 2.0), X national and
# on R1/R2 (R1 majority), W vivier on R1/R2 (R2 majority, lowest vivier APL), B1 B2 B3 vivier,
# O2 and O outside (O2 just above 4, small: the 5 % margin can take it).
# Région R2 (cap 50 %): its parts of X and W, Y vivier.
# Région R3 (cap 10 %): N national alone exceeds the cap, E1 at exactly 2.5, E2 at exactly 4,
# U without APL.
TOY = [
    ("00001", "R1", "A", "E1", 50, 1.0, 100.0),
    ("00002", "R1", "A", "E1", 50, 4.0, 50.0),
    ("00003", "R1", "X", "E1", 60, 2.2, 60.0),
    ("00004", "R2", "X", "E2", 40, 2.2, 40.0),
    ("00005", "R1", "W", "E1", 20, 2.6, 20.0),
    ("00006", "R2", "W", "E2", 25, 2.6, 25.0),
    ("00007", "R1", "B1", "E1", 150, 3.0, 150.0),
    ("00008", "R1", "B2", "E3", 200, 3.5, 200.0),
    ("00009", "R1", "B3", "E3", 10, 3.8, 10.0),
    ("00010", "R1", "O2", "E3", 15, 4.2, 15.0),
    ("00011", "R1", "O", "E3", 300, 4.5, 300.0),
    ("00012", "R2", "Y", "E2", 100, 3.2, 100.0),
    ("00013", "R3", "N", "E4", 100, 1.0, 100.0),
    ("00014", "R3", "E1", "E4", 10, 2.5, 10.0),
    ("00015", "R3", "E2", "E4", 10, 4.0, 10.0),
    ("00016", "R3", "U", "E4", 50, math.nan, math.nan),
]
CAPS = {"R1": 0.41, "R2": 0.5, "R3": 0.1}


def toy_inputs(rows=TOY, qpv=None, qpv_classes=None, qpv_population=None, gp=None):
    frame = pd.DataFrame(rows, columns=["insee", "region", "bv2012", "epci_siren", "population", "apl", "pop_std"])
    communes = frame[["insee", "region", "bv2012", "epci_siren", "population"]].assign(
        nom=lambda f: "commune " + f["insee"], departement=lambda f: "D" + f["region"].str[-1],
        region_nom=lambda f: "région " + f["region"], epci_nom=lambda f: "EPCI " + f["epci_siren"])
    apl = frame[["insee", "apl", "pop_std"]].dropna().assign(
        year=2022, level="commune", insee_arm=pd.NA, nom=lambda f: "commune " + f["insee"], apl_65=lambda f: f["apl"],
        pop_total=lambda f: f["pop_std"])
    if gp is None:
        gp = pd.DataFrame({"insee": frame["insee"], "gp_count": np.arange(len(frame)) % 3})
    return build_inputs(communes, apl, year=2022, gp_supply=gp, qpv_communes=qpv, qpv_classes=qpv_classes,
                        qpv_population=qpv_population)


def toy_config(**simulation):
    overrides = {"simulation": {"caps": {"default": 0.3, "regions": CAPS}, **simulation}}
    return load_config(overrides=overrides)


def by_territory(sim):
    return sim.territories.set_index("territory")


# ---------------------------------------------------------------------------- config
def test_default_config_is_valid_and_documented():
    config = load_config()
    assert config.apl_year == 2022 and config.apl_column == "apl_65"
    assert (config.simulation.zip_max, config.simulation.vivier_max) == (2.5, 4.0)
    assert config.simulation.margin_enabled is False and config.simulation.margin_share == 0.05
    assert config.simulation.cap("44") == config.simulation.cap_default
    assert config.simulation.cap("11") == pytest.approx(0.624)
    assert {c.name for c in config.scoring.criteria} >= {"apl", "gp_density", "population", "qpv_population", "gap"}
    assert config.class_map["ZAR"] == "HZ"


def test_planner_file_is_merged_on_the_defaults(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[simulation.caps.regions]\n"44" = 0.2\n[scoring.criteria.apl]\nweight = 1.0\n'
                    'direction = "lower"\n', encoding="utf-8")
    config = load_config(path)
    assert config.simulation.cap("44") == 0.2 and config.simulation.cap("11") == pytest.approx(0.624)
    assert next(c for c in config.scoring.criteria if c.name == "apl").weight == 1.0
    assert config.sources[-1] == str(path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"simulation": {"zip_max": 4.5}}, "simulation.vivier_max"),
        ({"simulation": {"caps": {"regions": {"44": 1.5}}}}, "simulation.caps.regions.44"),
        ({"simulation": {"vivier_fill": "random"}}, "simulation.vivier_fill"),
        ({"simulation": {"margin": {"enabled": "yes"}}}, "simulation.margin.enabled"),
        ({"simulation": {"capz": 1}}, "simulation.capz"),
        ({"scoring": {"criteria": {"apl": {"weight": -1}}}}, "scoring.criteria.apl.weight"),
        ({"scoring": {"criteria": {"beauty": {"weight": 1, "direction": "lower"}}}}, "scoring.criteria.beauty"),
        ({"scoring": {"criteria": {"apl": {"weight": 0.35, "direction": "down"}}}}, "scoring.criteria.apl.direction"),
        ({"data": {"apl_column": "apl_70"}}, "data.apl_column"),
        ({"comparison": {"class_map": {"ZAR": "ZOO"}}}, "comparison.class_map.ZAR"),
        ({"extra": {}}, "extra"),
    ],
)
def test_config_errors_name_the_key(overrides, message):
    with pytest.raises(PriorityConfigError, match=message.replace(".", r"\.")):
        load_config(overrides=overrides)


def test_config_file_errors(tmp_path):
    with pytest.raises(PriorityConfigError, match="no such parameter file"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[simulation\nzip_max = 2", encoding="utf-8")
    with pytest.raises(PriorityConfigError, match="not valid TOML"):
        load_config(bad)
    zero = {"scoring": {"criteria": {n: {"weight": 0} for n in ("apl", "gp_density", "population",
                                                                  "qpv_population", "gap")}}}
    with pytest.raises(PriorityConfigError, match="at least one criterion"):
        load_config(overrides=zero)


# ---------------------------------------------------------------------------- toy simulation
def test_toy_every_branch_stop_rule():
    sim = simulate_zoning(toy_inputs(), toy_config())
    t = by_territory(sim)
    assert t.loc["A", "apl"] == pytest.approx(2.0)  # (1.0×100 + 4.0×50) / 150: standardised-population weights
    expected = {
        "A": ("national", "ZIP", "A", pd.NA), "X": ("national", "ZIP", "A", pd.NA),
        "W": ("vivier", "ZIP", "B", "taken"), "B1": ("vivier", "ZIP", "B", "taken"),
        "B2": ("vivier", "ZAC", pd.NA, "no_room"), "B3": ("vivier", "ZAC", pd.NA, "after_stop"),
        "O2": ("outside", "HZ", pd.NA, pd.NA), "O": ("outside", "HZ", pd.NA, pd.NA),
        "Y": ("vivier", "ZAC", pd.NA, "no_room"), "N": ("national", "ZIP", "A", pd.NA),
        "E1": ("national", "ZIP", "A", pd.NA), "E2": ("vivier", "ZAC", pd.NA, "no_room"),
        "U": ("unknown", "unknown", pd.NA, pd.NA),
    }
    for code, (branch, classe, zone, selection) in expected.items():
        row = t.loc[code]
        assert (row["branch"], row["classe"]) == (branch, classe), code
        assert (pd.isna(row["zip_zone"]) and pd.isna(zone)) or row["zip_zone"] == zone, code
        assert (pd.isna(row["selection"]) and pd.isna(selection)) or row["selection"] == selection, code
    assert "national selection" in t.loc["A", "reason"]
    assert "zone B" in t.loc["B1", "reason"] and "cap 41.0%" in t.loc["B1", "reason"]
    assert "would be exceeded" in t.loc["B2", "reason"] and "stopped" in t.loc["B3", "reason"]
    assert "outside the vivier" in t.loc["O", "reason"] and t.loc["U", "reason"].startswith("no APL")
    regions = sim.regions.set_index("region")
    # R1: 855 inhabitants, cap 41 % = 350.55; ZIP = A 100 + X 60 + W 20 + B1 150 = 330.
    assert regions.loc["R1", "population"] == 855
    assert regions.loc["R1", "zip_population"] == pytest.approx(330)
    assert regions.loc["R1", "zip_a_population"] == pytest.approx(160)
    assert regions.loc["R1", "zip_population"] <= regions.loc["R1", "cap_population"]
    # R2 holds 40 of X (decided by R1) and 25 of W (decided by R2): 65 ≤ 82.5.
    assert regions.loc["R2", "zip_population"] == pytest.approx(65)
    assert bool(regions.loc["R3", "national_over_cap"]) and regions.loc["R3", "zip_b_population"] == 0


def test_toy_skip_rule_fills_the_cap_with_smaller_territories():
    t = by_territory(simulate_zoning(toy_inputs(), toy_config(vivier_fill="skip")))
    assert t.loc["B2", "classe"] == "ZAC" and t.loc["B2", "selection"] == "no_room"
    assert t.loc["B3", "classe"] == "ZIP" and t.loc["B3", "zip_zone"] == "B"  # 330 + 10 ≤ 350.55


def test_toy_vivier_rest_as_zone_de_vigilance():
    sim = simulate_zoning(toy_inputs(), toy_config(vivier_rest="ZV"))
    assert by_territory(sim).loc["B2", "classe"] == "ZV"
    assert sim.regions.set_index("region").loc["R1", "zv_population"] == pytest.approx(210)


def test_toy_margin_takes_small_territories_above_4_within_5_percent():
    sim = simulate_zoning(toy_inputs(), toy_config(vivier_fill="skip", margin={"enabled": True}))
    t = by_territory(sim)
    # R1's vivier: W 20 + B1 150 + B2 200 + B3 10 = 380 → budget 19: O2 (15) fits, O (300) does not.
    regions = sim.regions.set_index("region")
    assert regions.loc["R1", "vivier_population"] == pytest.approx(380)
    assert regions.loc["R1", "margin_budget"] == pytest.approx(19)
    assert t.loc["O2", "branch"] == "margin" and t.loc["O", "branch"] == "outside"
    assert regions.loc["R1", "margin_population"] == pytest.approx(15)
    # Then the vivier rules: O2 has the highest APL of the vivier and no room is left in the cap.
    assert t.loc["O2", "classe"] == "ZAC" and t.loc["O2", "selection"] == "no_room"
    assert "margin" in t.loc["O2", "reason"]
    generous = simulate_zoning(toy_inputs(), toy_config(caps={"regions": {"R1": 0.7}}, margin={"enabled": True}))
    assert by_territory(generous).loc["O2", "classe"] == "ZIP"


def test_toy_two_region_territory_is_classed_by_its_majority():
    sim = simulate_zoning(toy_inputs(), toy_config())
    t = by_territory(sim)
    assert t.loc["X", "region"] == "R1" and t.loc["X", "regions"] == "R1;R2"
    assert t.loc["W", "region"] == "R2" and t.loc["W", "region_share"] == pytest.approx(25 / 45)
    assert "classed by R2" in t.loc["W", "reason"]
    units = sim.units.set_index("code")
    assert units.loc["00005", "region"] == "R1" and units.loc["00005", "classe"] == "ZIP"  # R1 commune, W's class
    assert units.loc["00004", "classe"] == "ZIP"  # R2 commune of X, decided by R1
    # A cross-région territory is taken only if it fits every région's cap it touches.
    tight = simulate_zoning(toy_inputs(), toy_config(caps={"regions": {"R1": 160 / 855 + 1e-9}}))
    assert by_territory(tight).loc["W", "classe"] == "ZAC"


def test_toy_communes_as_territories():
    sim = simulate_zoning(toy_inputs(), toy_config(territory="commune"))
    units = sim.units.set_index("code")
    assert (units["territory"] == units.index).all()
    assert units.loc["00001", "classe"] == "ZIP" and units.loc["00002", "classe"] == "ZAC"  # APL 1.0 and 4.0
    assert units.loc["00002", "apl_territory"] == 4.0


def test_toy_region_filter_keeps_national_decisions():
    full = simulate_zoning(toy_inputs(), toy_config())
    only = simulate_zoning(toy_inputs(), toy_config(), regions=["R2"])
    assert set(only.units["region"]) == {"R2"}
    assert set(only.territories["territory"]) == {"X", "W", "Y"}
    merged = only.units.merge(full.units, on="code", suffixes=("", "_full"))
    assert (merged["classe"] == merged["classe_full"]).all()
    with pytest.raises(Exception, match=r"région.* inconnue"):
        simulate_zoning(toy_inputs(), toy_config(), regions=["R9"])


def test_toy_qpv_override_kept():
    qpv = pd.DataFrame({"code_qp": ["Q1", "Q2", "Q2"], "insee_com": ["00011", "00008", "00009"]})
    classes = pd.DataFrame({"code_qp": ["Q1"], "classe": ["ZIP"], "insee_com": ["00011"]})
    sim = simulate_zoning(toy_inputs(qpv=qpv, qpv_classes=classes), toy_config())
    q = sim.qpv.set_index(["code_qp", "insee"])
    assert q.loc[("Q1", "00011"), "classe"] == "ZIP" and q.loc[("Q1", "00011"), "classe_territory"] == "HZ"
    assert "5 % margin" in q.loc[("Q1", "00011"), "note"]
    assert q.loc[("Q2", "00008"), "classe"] == "ZAC" and q.loc[("Q2", "00008"), "source"] == "class of its territory"
    assert q.loc[("Q2", "00009"), "classe"] == "ZAC"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    apls=st.lists(st.floats(min_value=0.5, max_value=6.0), min_size=3, max_size=25),
    pops=st.lists(st.integers(min_value=0, max_value=5000), min_size=25, max_size=25),
    cap=st.floats(min_value=0.0, max_value=1.0),
    fill=st.sampled_from(["stop", "skip"]),
    margin=st.booleans(),
)
def test_invariants_on_random_regions(apls, pops, cap, fill, margin):
    rows = [(f"{i:05d}", "R1" if i % 4 else "R2", f"T{i // 2}", "E", pops[i], apl, float(pops[i]))
            for i, apl in enumerate(apls)]
    config = load_config(overrides={"simulation": {"caps": {"default": cap, "regions": {}}, "vivier_fill": fill,
                                                   "margin": {"enabled": margin}}})
    sim = simulate_zoning(toy_inputs(rows), config)
    t = sim.territories
    national = t["branch"] == "national"
    assert (t.loc[national, "apl"] <= 2.5).all() and (t.loc[national, "classe"] == "ZIP").all()
    assert t.loc[t["apl"] > 4.0, "branch"].isin(["outside", "margin"]).all()
    assert (t.loc[t["branch"] == "outside", "classe"] == "HZ").all()
    assert t.loc[t["branch"] == "vivier", "classe"].isin(["ZIP", "ZAC"]).all()
    for r in sim.regions.itertuples():
        # ZIP B are added only while the cap holds; the national selection is never dropped.
        assert r.zip_population <= max(r.cap_population, r.zip_a_population) + 1e-6
        assert r.margin_population <= r.margin_budget + 1e-6
        assert r.zip_population + r.zac_population + r.hz_population + r.unknown_population == pytest.approx(
            r.population)


# ---------------------------------------------------------------------------- toy comparison
def test_toy_comparison_counts_units_and_population():
    sim = simulate_zoning(toy_inputs(), toy_config())
    official = pd.DataFrame({"code": [r[0] for r in TOY], "classe": ["ZIP"] * 4 + ["ZAC"] * 8 + ["ZAR"] * 4})
    comparison = compare_zoning(sim, official)
    table = comparison.table.set_index("code")
    assert table.loc["00013", "official"] == "HZ" and table.loc["00013", "official_raw"] == "ZAR"
    assert not table.loc["00016", "comparable"]  # no APL: excluded, counted
    agreement = comparison.agreement.set_index("region")
    # R1 agrees on A, X (ZIP), B2, B3 (ZAC): units 00001 00002 00003 00008 00009.
    assert agreement.loc["R1", "n_units"] == 9 and agreement.loc["R1", "n_agree"] == 5
    assert agreement.loc["R1", "population_agree"] == pytest.approx(50 + 50 + 60 + 200 + 10)
    assert agreement.loc["all", "n_excluded"] == 1 and agreement.loc["R3", "n_excluded"] == 1
    assert agreement.loc["all", "n_units"] == 15
    matrix = confusion_matrix(comparison.confusion, "all")
    assert matrix.loc["total", "total"] == 15 and matrix.loc["ZIP", "ZIP"] == 4
    population = confusion_matrix(comparison.confusion, "R1", value="population")
    assert population.loc["total", "total"] == 855
    assert len(comparison.disagreements) == 15 - int(agreement.loc["all", "n_agree"])
    assert comparison.disagreements.groupby("region")["population"].apply(lambda s: s.is_monotonic_decreasing).all()


# ---------------------------------------------------------------------------- toy scoring
def test_toy_aggregation_and_gap():
    inputs = toy_inputs()
    bv = aggregate_territories(inputs, "bv2012", gap_threshold=4.0).set_index("code")
    assert bv.loc["A", "apl"] == pytest.approx(2.0)
    assert bv.loc["A", "gap"] == pytest.approx(150 * (4.0 - 2.0))
    assert bv.loc["O", "gap"] == 0 and math.isnan(bv.loc["U", "gap"]) and bv.loc["U", "apl_coverage"] == 0
    assert bv.loc["A", "gp_density"] == pytest.approx((0 + 1) / 100 * 10000)
    epci = aggregate_territories(inputs, "epci").set_index("code")
    assert epci.loc["E1", "population"] == 50 + 50 + 60 + 20 + 150 and epci.loc["E1", "name"] == "EPCI E1"
    dep = aggregate_territories(inputs, "departement").set_index("code")
    assert dep.loc["D1", "region"] == "R1" and dep.loc["D1", "regions"] == "R1" and dep.loc["D1", "name"] == "D1"


def test_toy_scores_add_up_and_follow_the_directions():
    qpv = pd.DataFrame({"code_qp": ["Q1"], "insee_com": ["00007"]})
    inputs = toy_inputs(qpv=qpv)
    config = load_config()
    scores = territories_scores(inputs, "bv2012", config)
    table = scores.table.set_index("code")
    # QPV population unknown everywhere: left out, the other weights re-normalised to sum to 1.
    assert table["qpv_population"].isna().all()
    assert (table.loc[table["score"].notna(), "missing"] == "qpv_population").all()
    points = [c for c in table.columns if c.endswith("_points")]
    assert np.allclose(table[points].sum(axis=1)[table["score"].notna()], table["score"].dropna())
    components = scores.components
    weights = components.groupby("code")["weight_used"].sum()
    assert np.allclose(weights[table.index[table["score"].notna()]], 1.0)
    assert (components.loc[components["criterion"] == "qpv_population", "points"] == 0).all()
    # Lowest APL = most APL need; U without APL is not scored (too few criteria known).
    assert table["apl_need"].idxmax() == table["apl"].idxmin()
    assert math.isnan(table.loc["U", "score"]) and pd.isna(table.loc["U", "rank"])
    assert "APL 2,00 (besoin" in table.loc["A", "explanation"]
    assert "population en QPV inconnu (critère écarté)" in table.loc["A", "explanation"]
    assert scores.table["rank"].iloc[0] == 1 and scores.table["score"].iloc[0] == table["score"].max()
    # With known QPV populations the criterion counts: 0 where no QPV, the QPV's where one.
    known = toy_inputs(qpv=qpv, qpv_population=pd.DataFrame({"code_qp": ["Q1"], "population": [1200.0]}))
    table2 = territories_scores(known, "bv2012", config).table.set_index("code")
    assert table2.loc["B1", "qpv_population"] == 1200 and table2.loc["A", "qpv_population"] == 0
    assert table2.loc["B1", "qpv_population_need"] == 1.0


def test_toy_minmax_and_region_filter():
    config = load_config(overrides={"scoring": {"normalisation": "minmax"}})
    scores = territories_scores(toy_inputs(), "commune", config, region="R2")
    table = scores.table
    assert set(table["region"]) == {"R2"} and len(table) == 3
    assert table["apl_need"].max() == 1.0 and table["apl_need"].min() == 0.0
    with pytest.raises(Exception, match=r"région.* inconnue"):
        territories_scores(toy_inputs(), "commune", config, region="R9")
    with pytest.raises(Exception, match=r"niveau .* inconnu"):
        territories_scores(toy_inputs(), "canton", config)
    empty = score_territories(table.iloc[:0][["code", "apl", "gp_density", "population", "qpv_population", "gap"]],
                              config.scoring)
    assert empty.table.empty


# ---------------------------------------------------------------------------- real data
REGIONS = {"44": "Grand Est", "28": "Normandie"}


@pytest.fixture(scope="module")
def real(built):
    from zonage.studies.territories import load_inputs, load_official

    config = load_config()
    inputs = load_inputs(built, config)
    simulation = simulate_zoning(inputs, config)
    comparison = compare_zoning(simulation, load_official(built), config.class_map)
    return config, inputs, simulation, comparison


@pytest.mark.mirror
@pytest.mark.parametrize("region", sorted(REGIONS))
def test_real_simulation_invariants(real, region):
    config, inputs, simulation, _ = real
    sim = config.simulation
    units = simulation.units[simulation.units["region"] == region]
    territories = simulation.territories[simulation.territories["regions"].str.split(";").map(lambda r: region in r)]
    r = simulation.regions.set_index("region").loc[region]
    # Every commune is classed; the région's population is the communes' population.
    assert (units["classe"] != "unknown").all()
    assert r["population"] == pytest.approx(inputs.units.loc[inputs.units["region"] == region, "population"].sum())
    # Caps respected; thresholds respected.
    assert r["zip_population"] <= max(r["cap_population"], r["zip_a_population"]) + 1e-6
    assert r["zip_population"] / r["population"] <= sim.cap(region) + 1e-9
    assert (territories.loc[territories["branch"] == "national", "apl"] <= sim.zip_max).all()
    assert territories.loc[territories["apl"] > sim.vivier_max, "classe"].eq("HZ").all()
    assert territories.loc[territories["classe"] == "ZAC", "apl"].between(sim.zip_max, sim.vivier_max).all()
    # Territory APL = standardised-population-weighted mean of its communes' APL.
    one = units[units["territory"] == units["territory"].mode().iloc[0]]
    parts = inputs.units[inputs.units["bv2012"] == one["territory"].iloc[0]]
    expected = (parts["apl"] * parts["pop_std"]).sum() / parts["pop_std"].sum()
    assert one["apl_territory"].iloc[0] == pytest.approx(expected)
    # Vivier taken lowest APL first: every ZIP B of the région has an APL ≤ every vivier ZAC decided by it.
    decided = territories[territories["region"] == region]
    zip_b = decided.loc[decided["zip_zone"] == "B", "apl"]
    zac = decided.loc[decided["branch"].eq("vivier") & decided["classe"].eq("ZAC"), "apl"]
    if len(zip_b) and len(zac):
        assert zip_b.max() <= zac.min()


@pytest.mark.mirror
def test_real_agreement_figures(real):
    comparison = real[3]
    agreement = comparison.agreement.set_index("region")
    print()
    print(agreement.loc[[*sorted(REGIONS), "all"], ["n_units", "share_units", "share_population",
                                                     "share_population_zoned", "official_zip_share",
                                                     "simulated_zip_share"]].round(3).to_string())
    for region in REGIONS:
        print(f"confusion matrix {region} (communes)")
        print(confusion_matrix(comparison.confusion, region).to_string())
        row = agreement.loc[region]
        assert row["n_units"] > 2000 and row["n_excluded"] <= 2
        # Loose sanity bounds: well above chance, well below identity (proxy TVS, ARS choices).
        assert 0.55 <= row["share_units"] <= 0.95
        assert 0.55 <= row["share_population"] <= 0.95
        assert row["share_population_zoned"] >= 0.75
    assert 0.45 <= agreement.loc["all", "share_units"] <= 0.9
    assert agreement.loc["all", "n_units"] > 34000
    d = comparison.disagreements
    assert len(d) == int((~comparison.table["agree"] & comparison.table["comparable"]).sum())
    assert {"code", "insee", "simulated", "official", "apl_territory", "reason"} <= set(d.columns)


@pytest.mark.mirror
def test_real_scores_grand_est(real):
    config, inputs, _, _ = real
    scores = territories_scores(inputs, "bv2012", config, region="44")
    table = scores.table
    assert table["region"].eq("44").all() and 100 < len(table) < 250
    assert table["score"].between(0, 100).all() and table["rank"].min() == 1
    points = [c for c in table.columns if c.endswith("_points")]
    assert np.allclose(table[points].sum(axis=1), table["score"])
    assert len(scores.components) == len(table) * sum(c.weight > 0 for c in config.scoring.criteria)
    # The top decile has a lower APL than the bottom decile.
    n = len(table) // 10
    assert table["apl"].head(n).mean() < table["apl"].tail(n).mean()


@pytest.mark.mirror
def test_real_cli(built, tmp_path, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from zonage.cli.priority import register

    app = typer.Typer()

    @app.callback()
    def main(data: str | None = None, mirror: str | None = None, debug: bool = False) -> None:
        """Test root."""

    register(app)
    runner = CliRunner()
    out = tmp_path / "scores.csv"
    result = runner.invoke(app, ["--data", str(built.data), "score", "--level", "departement", "--region", "28",
                                 "-o", str(out), "--components", str(tmp_path / "components.csv")])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out, sep=";", dtype={"code": str})) == 5
    sim_out = tmp_path / "sim.csv"
    result = runner.invoke(app, ["--data", str(built.data), "simulate-zoning", "--region", "28", "-o", str(sim_out),
                                 "--agreement", str(tmp_path / "agreement.csv")])
    assert result.exit_code == 0, result.output
    assert "matrice de confusion" in result.output and "zonage simulé et zonage officiel" in result.output
    assert pd.read_csv(sim_out, sep=";", encoding="utf-8-sig", dtype={"region": str})["region"].eq("28").all()
    bad = tmp_path / "bad.toml"
    bad.write_text("[simulation]\nzip_max = 5\n", encoding="utf-8")
    result = runner.invoke(app, ["--data", str(built.data), "simulate-zoning", "--config", str(bad), "-o",
                                 str(sim_out)])
    assert result.exit_code == 2 and "vivier_max" in result.output
