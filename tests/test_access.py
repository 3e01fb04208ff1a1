from __future__ import annotations

import math
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from zonage.access import (
    StraightLine,
    accessibility,
    accessibility_grid,
    aggregate,
    assign_points,
    binary,
    drees,
    drees_activity,
    drees_age_weights,
    exponential,
    floating_catchment,
    gaussian,
    linear,
    luo_qi,
    od_costs,
    parse_decay,
    raster_demand,
    rasterize_cells,
    standardised_population,
    stepped,
    straight_line_costs,
    supply_by_location,
    weight_matrix,
    write_geotiff,
)
from zonage.access.demand import band_weights
from zonage.errors import InputDataError, ZonageError
from zonage.layers.store import read_layer
from zonage.studies.access import commune_accessibility

# --------------------------------------------------------------------------- hand-computed cases
# Origins A, B, C (population 100, 200, 300); supply X (2 GPs), Y (1 GP); C-X is beyond 30 min.
OD = pd.DataFrame(
    [("A", "X", 5.0), ("A", "Y", 25.0), ("B", "X", 15.0), ("B", "Y", 8.0), ("C", "Y", 12.0), ("C", "X", 40.0)],
    columns=["origin", "destination", "cost"],
)
POP = pd.Series({"A": 100.0, "B": 200.0, "C": 300.0}, name="pop")
GPS = pd.Series({"X": 2.0, "Y": 1.0}, name="gp")


def _run(method: str, decay=None, cutoff: float = 30.0, costs=OD, pop=POP, gps=GPS) -> pd.Series:
    return accessibility(costs, pop, gps, method=method, decay=decay, cutoff=cutoff).set_index("id")["access"]


def test_2sfca_by_hand() -> None:
    # D_X = 100 + 200 = 300, D_Y = 100 + 200 + 300 = 600 (C-X at 40 min is out).
    result = _run("2sfca")
    expected = {"A": 2 / 300 + 1 / 600, "B": 2 / 300 + 1 / 600, "C": 1 / 600}
    assert result.to_dict() == pytest.approx(expected, rel=1e-12)
    # A 10-minute cut-off keeps A-X and B-Y only.
    assert _run("2sfca", cutoff=10).to_dict() == pytest.approx({"A": 2 / 100, "B": 1 / 200, "C": 0.0}, rel=1e-12)


def test_e2sfca_drees_steps_by_hand() -> None:
    # Weights: A-X 1, A-Y 0 (25 min), B-X 2/3, B-Y 1, C-Y 2/3.
    d_x, d_y = 100 + 200 * 2 / 3, 200 + 300 * 2 / 3
    expected = {"A": 2 / d_x, "B": 2 / 3 * 2 / d_x + 1 / d_y, "C": 2 / 3 * 1 / d_y}
    assert _run("e2sfca").to_dict() == pytest.approx(expected, rel=1e-12)
    assert _run("e2sfca", drees()).to_dict() == pytest.approx(expected, rel=1e-12)


def test_3sfca_by_hand() -> None:
    # Binary weights: A and B split their demand half/half between X and Y; C only reaches Y.
    result = _run("3sfca", binary())
    r_x, r_y = 2 / (100 / 2 + 200 / 2), 1 / (100 / 2 + 200 / 2 + 300)
    expected = {"A": r_x / 2 + r_y / 2, "B": r_x / 2 + r_y / 2, "C": r_y}
    assert result.to_dict() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("decay", "w10"),
    [(exponential(0.1), math.exp(-1)), (gaussian(10), math.exp(-0.5)), (linear(20), 0.5), (luo_qi(), 1.0)],
)
def test_continuous_decays_by_hand(decay, w10: float) -> None:
    od = pd.DataFrame({"origin": ["A", "B"], "destination": ["X", "X"], "cost": [0.0, 10.0]})
    pop = pd.Series({"A": 100.0, "B": 300.0})
    result = _run("e2sfca", decay, costs=od, pop=pop, gps=pd.Series({"X": 4.0}))
    ratio = 4 / (100 + 300 * w10)
    assert result.to_dict() == pytest.approx({"A": ratio, "B": w10 * ratio}, rel=1e-12)


def test_supply_is_conserved_and_long_table() -> None:
    table = accessibility(OD, POP, pd.DataFrame({"gp": GPS, "fte": [1.5, 0.5]}, index=GPS.index), cutoff=30)
    assert list(table.columns) == ["id", "supply", "method", "access", "demand"]
    assert len(table) == 6 and set(table["supply"]) == {"gp", "fte"}
    for name, total in (("gp", 3.0), ("fte", 2.0)):
        part = table[table["supply"] == name]
        assert (part["access"] * part["demand"]).sum() == pytest.approx(total, rel=1e-12)
    # 4 pairs weigh: C-X is beyond 30 min and A-Y (25 min) has DREES weight 0.
    assert table.attrs["pairs"] == 4 and table.attrs["unreached_supply"] == {"gp": 0.0, "fte": 0.0}


def test_unreached_supply_and_isolated_origin() -> None:
    od = pd.DataFrame({"origin": ["A", "B"], "destination": ["X", "Y"], "cost": [3.0, 50.0]})
    table = accessibility(od, pd.Series({"A": 10.0, "B": 10.0, "C": 5.0}),
                          pd.Series({"X": 1.0, "Y": 7.0}, name="gp"), cutoff=30)
    # Y's only pair is beyond the cut-off: its 7 GPs serve nobody; C has no pair at all.
    assert table.set_index("id")["access"].to_dict() == {"A": 0.1, "B": 0.0, "C": 0.0}
    assert table.attrs["unreached_supply"] == {"gp": 7.0}


def test_scale_and_input_errors() -> None:
    assert _run("2sfca").mul(1e5).to_numpy() == pytest.approx(
        accessibility(OD, POP, GPS, method="2sfca", cutoff=30, scale=1e5)["access"].to_numpy())
    with pytest.raises(InputDataError, match="not a number"):
        accessibility(OD, POP.replace(100.0, -1.0), GPS)
    with pytest.raises(InputDataError, match="unique"):
        accessibility(OD, pd.Series([1.0, 2.0], index=["A", "A"]), GPS)
    with pytest.raises(InputDataError, match="more than once"):
        od_costs(pd.concat([OD, OD.head(1)]))
    with pytest.raises(InputDataError, match="non-negative"):
        od_costs(OD.assign(cost=[1, 2, -3, 4, 5, 6]))
    with pytest.raises(InputDataError, match="no column"):
        od_costs(OD.rename(columns={"cost": "minutes"}))
    with pytest.raises(ValueError, match=r"méthode .* inconnue"):
        _run("4sfca")


def test_stepped_bounds_and_parsing() -> None:
    costs = np.array([0.0, 10.0, 10.5, 15.0, 20.0, 20.01, 99.0])
    assert drees()(costs).tolist() == pytest.approx([1, 1, 2 / 3, 2 / 3, 1 / 3, 0, 0])
    assert stepped({10: 1, 20: 0.5}, right=False)(np.array([9.99, 10.0, 20.0])).tolist() == [1.0, 0.5, 0.0]
    assert parse_decay("steps:10=1,15=0.5")(np.array([12.0])).tolist() == [0.5]
    assert parse_decay("exp:0.12")(np.array([10.0]))[0] == pytest.approx(math.exp(-1.2))
    assert parse_decay("drees").name.startswith("drees")
    with pytest.raises(ValueError, match=r"décroissance .* inconnue"):
        parse_decay("cubic:3")


@st.composite
def _problems(draw):
    n_o = draw(st.integers(1, 7))
    n_d = draw(st.integers(1, 6))
    cost = draw(st.lists(st.one_of(st.none(), st.floats(0, 40)), min_size=n_o * n_d, max_size=n_o * n_d))
    pop = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e4)), min_size=n_o, max_size=n_o))
    sup = draw(st.lists(st.floats(0, 50), min_size=n_d, max_size=n_d))
    return np.array([np.nan if c is None else c for c in cost]).reshape(n_o, n_d), np.array(pop), np.array(sup)


def _dense_reference(cost: np.ndarray, pop: np.ndarray, sup: np.ndarray, method: str, decay, cutoff: float):
    """Plain loops over a dense matrix: the textbook formulas."""
    n_o, n_d = cost.shape
    w = np.zeros_like(cost)
    for i in range(n_o):
        for j in range(n_d):
            if not np.isnan(cost[i, j]) and cost[i, j] <= cutoff:
                w[i, j] = float(decay(np.array([cost[i, j]]))[0])
    if method == "3sfca":
        g = np.zeros_like(w)
        for i in range(n_o):
            total = sum(w[i, k] for k in range(n_d) if sup[k] > 0)
            for j in range(n_d):
                g[i, j] = w[i, j] / total if total > 0 and sup[j] > 0 else 0.0
        w = g * w
    ratio = np.array([sup[j] / sum(w[i, j] * pop[i] for i in range(n_o)) if sum(w[:, j] * pop) > 0 else 0.0
                      for j in range(n_d)])
    return np.array([sum(w[i, j] * ratio[j] for j in range(n_d)) for i in range(n_o)])


@settings(max_examples=60, deadline=None)
@given(_problems(), st.sampled_from(["2sfca", "e2sfca", "3sfca"]), st.sampled_from([15.0, 30.0]))
def test_sparse_matches_dense_reference(problem, method: str, cutoff: float) -> None:
    cost, pop, sup = problem
    i, j = np.nonzero(~np.isnan(cost))
    od = pd.DataFrame({"origin": i, "destination": j, "cost": cost[i, j]})
    decay = binary() if method == "2sfca" else drees()
    result = accessibility(od, pd.Series(pop, index=range(len(pop))), pd.Series(sup, index=range(len(sup))),
                           method=method, decay=decay, cutoff=cutoff)
    expected = _dense_reference(cost, pop, sup, method, decay, cutoff)
    assert result["access"].to_numpy() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # Conservation: Σ demand × access = supply whose catchment holds demand.
    reached = sum(result.attrs["unreached_supply"].values())
    assert float((result["access"] * result["demand"]).sum()) == pytest.approx(sup.sum() - reached, rel=1e-9,
                                                                                abs=1e-9)


# --------------------------------------------------------------------------- straight-line costs
def test_speed_model_by_hand() -> None:
    model = StraightLine(detour=1.0, speeds=((5.0, 30.0), (math.inf, 60.0)))
    # 10 km: 5 km at 30 km/h (10 min) + 5 km at 60 km/h (5 min).
    assert model.cost(np.array([0.0, 2_500.0, 10_000.0])).tolist() == pytest.approx([0.0, 5.0, 15.0])
    assert model.max_metres(15.0) == pytest.approx(10_000.0)
    assert StraightLine(detour=1.5, speeds=None).cost(np.array([2_000.0]))[0] == pytest.approx(3.0)
    with pytest.raises(ValueError):
        StraightLine(detour=0.8)
    with pytest.raises(ValueError):
        StraightLine(speeds=((5.0, 30.0), (10.0, 50.0)))


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 120), st.floats(1.0, 2.0))
def test_max_metres_inverts_cost(minutes: float, detour: float) -> None:
    model = StraightLine(detour=detour)
    assert model.cost(np.array([model.max_metres(minutes)]))[0] == pytest.approx(minutes, abs=1e-9)


def test_kdtree_pairs_equal_brute_force() -> None:
    rng = np.random.default_rng(5)
    origins, destinations = rng.uniform(0, 60_000, (300, 2)), rng.uniform(0, 60_000, (120, 2))
    model = StraightLine()
    costs = straight_line_costs(origins, destinations, cutoff=20.0, model=model)
    dense = model.cost(np.hypot(*(origins[:, None, :] - destinations[None, :, :]).transpose(2, 0, 1)))
    i, j = np.nonzero(dense <= 20.0)
    got = pd.Series(costs.cost, index=pd.MultiIndex.from_arrays([costs.origin_pos, costs.destination_pos]))
    want = pd.Series(dense[i, j], index=pd.MultiIndex.from_arrays([i, j]))
    assert len(got) == len(want) and got.sort_index().to_numpy() == pytest.approx(want.sort_index().to_numpy())
    assert len(costs) < origins.shape[0] * destinations.shape[0] / 3  # sparse, not all pairs


def test_straight_line_needs_metric_crs() -> None:
    points = gpd.GeoSeries([Point(7.0, 43.7), Point(7.1, 43.7)], crs="EPSG:4326")
    with pytest.raises(InputDataError, match="projected"):
        straight_line_costs(points, cutoff=10.0)
    same = straight_line_costs(points.to_crs("EPSG:2154"), cutoff=30.0)
    assert len(same) == 4 and same.to_frame()["cost"].min() == 0.0  # self-pairs at cost 0


# --------------------------------------------------------------------------- demand and supply
def test_band_weights_by_hand() -> None:
    weights = pd.DataFrame({"age_min": [0, 20], "age_max": [20, None], "weight": [0.5, 1.5]})
    got = band_weights({"a": (0, 10), "b": (15, 25), "c": (80, None)}, weights)
    assert got.tolist() == pytest.approx([0.5, 1.0, 1.5])
    pop = pd.DataFrame({"a": [10.0], "b": [4.0], "c": [2.0]})
    assert standardised_population(pop, {"a": (0, 10), "b": (15, 25), "c": (80, None)}, weights).iloc[0] == 12.0
    with pytest.raises(InputDataError):
        band_weights({"a": (0, 10)}, pd.DataFrame({"age_min": [5], "age_max": [None], "weight": [1.0]}))


def test_supply_by_location_age_cap_and_activity() -> None:
    doctors = pd.DataFrame({"commune": ["a", "a", "b", "b"], "age": [40, 70, None, 66], "acts": [100, 5000, 7000, 300]})
    assert supply_by_location(doctors, "commune").to_dict() == {"a": 2.0, "b": 2.0}
    assert supply_by_location(doctors, "commune", age="age", max_age=65).to_dict() == {"a": 1.0, "b": 1.0}
    activity = doctors.assign(acts=drees_activity(doctors["acts"]))
    assert activity["acts"].tolist() == [0.0, 5000.0, 6000.0, 3600.0]
    assert supply_by_location(activity, "commune", value="acts").to_dict() == {"a": 5000.0, "b": 9600.0}


def test_drees_age_weights_match_workbook(mirror: Path) -> None:
    sheet = pd.read_excel(mirror / "apl" / "drees_apl_mg_2022_2023.xlsx", sheet_name="Paramètres", header=None)
    start = sheet.index[sheet[0].astype(str).str.startswith("Tranche d")][0] + 1
    block = sheet.iloc[start:start + 19, :3]
    assert str(block.iloc[0, 0]).startswith("Moins de 5") and str(block.iloc[-1, 0]).startswith("Plus de 90")
    for column, year in ((1, 2022), (2, 2023)):
        assert drees_age_weights(year)["weight"].tolist() == pytest.approx(block[column].astype(float).tolist())


def test_iris_standardised_population_close_to_study(mirror: Path) -> None:
    folder = mirror / "access06"
    pop = pd.read_excel(folder / "pop_iris_06_rp2019_by_age.xlsx")
    raw = pd.read_excel(folder / "ponderations_age_damir_2021.xlsx", sheet_name="Généraliste", header=None)
    head = raw.index[raw[8].astype(str).str.startswith("Pond")][0]
    table = raw.iloc[head + 1:head + 9, [8, 9]].astype(float)
    lower = table[8].to_numpy()
    weights = pd.DataFrame({"age_min": lower, "age_max": np.append(lower[1:], np.inf), "weight": table[9]})
    bands = {"P19_POP0002": (0, 3), "P19_POP0305": (3, 6), "P19_POP0610": (6, 11), "P19_POP1117": (11, 18),
             "P19_POP1824": (18, 25), "P19_POP2539": (25, 40), "P19_POP4054": (40, 55), "P19_POP5564": (55, 65),
             "P19_POP6579": (65, 80), "P19_POP80P": (80, None)}
    ours = standardised_population(pop.set_index("IRIS"), bands, weights)
    study = pd.read_csv(folder / "rgp_iris_06_2022_popgp_nb_R.csv").set_index("IRIS1")["POPGP"]
    both = pd.concat([ours, study], axis=1, join="inner")
    assert len(both) == 500
    # Same idea, other vintages (census 2019 here; the study's own population input differs):
    assert np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1] > 0.999
    assert 0.95 < both.iloc[:, 0].sum() / both.iloc[:, 1].sum() < 1.10


# --------------------------------------------------------------------------- equality with PySAL access
def _pysal():
    try:
        import access
    except ImportError:  # pragma: no cover - depends on the environment
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PySAL `access` is not installed (test extras)")
        pytest.skip("PySAL `access` not installed")
    return access


@pytest.fixture(scope="module")
def alpes_maritimes(mirror: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = mirror / "access06"
    od = pd.read_csv(folder / "od_iris_06_km_min_le30.csv")
    units = pd.read_csv(folder / "rgp_iris_06_2022_popgp_nb_R.csv")
    assert {"IRIS1", "IRIS2", "KM", "TIME"} <= set(od.columns) and {"IRIS1", "POPGP", "NB"} <= set(units.columns)
    return od, units


def _relative_difference(ours: pd.Series, theirs: pd.Series) -> float:
    ours, theirs = ours.sort_index(), theirs.reindex(ours.sort_index().index)
    assert theirs.notna().all()
    scale = np.maximum(np.abs(theirs.to_numpy()), 1e-300)
    return float(np.max(np.abs(ours.to_numpy() - theirs.to_numpy()) / scale))


@pytest.mark.parametrize(
    ("method", "steps", "cutoff"),
    [("2sfca", None, 30), ("2sfca", None, 15), ("e2sfca", {10: 1, 15: 2 / 3, 20: 1 / 3}, 30),
     ("e2sfca", {10: 1, 20: 0.68, 30: 0.22}, 30)],
)
def test_equal_to_pysal_on_alpes_maritimes(alpes_maritimes, method: str, steps, cutoff: float) -> None:
    access = _pysal()
    od, units = alpes_maritimes
    model = access.Access(demand_df=units[["IRIS1", "POPGP"]], demand_index="IRIS1", demand_value="POPGP",
                          supply_df=units[["IRIS1", "NB"]], supply_index="IRIS1", supply_value="NB",
                          cost_df=od, cost_origin="IRIS1", cost_dest="IRIS2", cost_name="TIME")
    if method == "2sfca":
        theirs = model.two_stage_fca(max_cost=cutoff).iloc[:, 0]
        decay = binary()
    else:
        theirs = model.enhanced_two_stage_fca(max_cost=cutoff, weight_fn=access.weights.step_fn(steps)).iloc[:, 0]
        decay = stepped(steps)
    ours = accessibility(od, units.set_index("IRIS1")["POPGP"], units.set_index("IRIS1")["NB"], method=method,
                         decay=decay, cutoff=cutoff, origin="IRIS1", destination="IRIS2", cost="TIME")
    assert len(ours) == 500 and ours["access"].gt(0).sum() > 400
    assert _relative_difference(ours.set_index("id")["access"], theirs) <= 1e-9


def test_3sfca_equal_to_pysal_on_alpes_maritimes(alpes_maritimes) -> None:
    access = _pysal()
    od, units = alpes_maritimes
    # PySAL shares each origin's demand among every destination of its cost table; ours among the
    # destinations that have supply (Wan et al. 2012): give PySAL those destinations only.
    with_gp = od[od["IRIS2"].isin(units.loc[units["NB"] > 0, "IRIS1"])].copy()
    model = access.Access(demand_df=units[["IRIS1", "POPGP"]], demand_index="IRIS1", demand_value="POPGP",
                          supply_df=units[["IRIS1", "NB"]], supply_index="IRIS1", supply_value="NB",
                          cost_df=with_gp, cost_origin="IRIS1", cost_dest="IRIS2", cost_name="TIME")
    theirs = model.three_stage_fca(max_cost=30, weight_fn=access.weights.gaussian(10)).iloc[:, 0]
    ours = accessibility(od, units.set_index("IRIS1")["POPGP"], units.set_index("IRIS1")["NB"], method="3sfca",
                         decay=gaussian(10), cutoff=30, origin="IRIS1", destination="IRIS2", cost="TIME")
    ours = ours.set_index("id")["access"]
    unreached = theirs.isna()  # PySAL: NaN where no GP is within reach; ours: 0
    assert (ours[unreached.reindex(ours.index).to_numpy()] == 0).all()
    assert _relative_difference(ours[~unreached.reindex(ours.index).to_numpy()], theirs[~unreached]) <= 1e-9


# --------------------------------------------------------------------------- aggregation
def test_aggregate_weighted_by_hand() -> None:
    result = pd.DataFrame({"id": ["a", "b", "c", "d"], "supply": "gp", "method": "e2sfca",
                           "access": [1.0, 3.0, 5.0, 7.0], "demand": [1.0, 3.0, 0.0, 0.0]})
    units = pd.DataFrame({"insee": ["a", "b", "c", "d"], "dep": ["01", "01", "02", None]}).set_index("insee",
                                                                                                     drop=False)
    out = aggregate(result, units, {"commune": "insee", "departement": "dep"}).set_index(["level", "code"])
    assert out.loc[("departement", "01"), "access"] == pytest.approx((1 * 1 + 3 * 3) / 4)
    assert out.loc[("departement", "02"), "access"] == 5.0  # weight 0: plain mean
    assert out.loc[("departement", "01"), "units"] == 2 and len(out.loc["departement"]) == 2
    assert out.loc[("commune", "d"), "access"] == 7.0


def test_assign_points_within_then_nearest() -> None:
    polygons = gpd.GeoDataFrame({"insee": ["p", "q"]}, geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)],
                                crs="EPSG:2154")
    points = gpd.GeoDataFrame(geometry=[Point(5, 5), Point(15, 5), Point(25, 5)], crs="EPSG:2154",
                              index=["c1", "c2", "c3"])
    got = assign_points(points, polygons, ["insee"])
    assert got["insee"].tolist() == ["p", "q", "q"] and got["assigned"].tolist() == ["within", "within", "nearest"]


# --------------------------------------------------------------------------- real data: grid and national run
def test_reunion_grid_geotiff(mirror: Path, built, tmp_path: Path) -> None:
    cells = gpd.read_file(mirror / "population" / "Filosofi2017_carreaux_1km_reun.gpkg")
    assert cells.crs.to_epsg() == 2975 and len(cells) == 1310
    population = write_geotiff(rasterize_cells(cells, "Ind", 1000.0), tmp_path / "pop_974.tif")
    points, template = raster_demand(population)
    assert len(points) == 1310 and points["population"].sum() == pytest.approx(cells["Ind"].sum(), rel=1e-12)
    # Age-standardised demand from the grid's age bands, with the DREES 2022 weights: the share of
    # standardised population is the DREES workbook's own for La Réunion (within 0.02).
    bands = {"Ind_0_3": (0, 4), "Ind_4_5": (4, 6), "Ind_6_10": (6, 11), "Ind_11_17": (11, 18),
             "Ind_18_24": (18, 25), "Ind_25_39": (25, 40), "Ind_40_54": (40, 55), "Ind_55_64": (55, 65),
             "Ind_65_79": (65, 80), "Ind_80p": (80, None)}
    std = standardised_population(cells, bands, drees_age_weights(2022))
    apl = read_layer(built, "apl_communes")
    apl = apl[(apl["level"] == "commune") & (apl["year"] == 2022) & apl["insee"].str.startswith("974")]
    assert std.sum() / cells[list(bands)].to_numpy().sum() == pytest.approx(
        apl["pop_std"].sum() / apl["pop_total"].sum(), abs=0.02)

    communes = read_layer(built, "communes", territory="974").set_index("insee", drop=False)
    gps = read_layer(built, "gp_supply").set_index("insee")["gp_count"].reindex(communes.index).fillna(0)
    costs = straight_line_costs(points, communes, cutoff=30.0, destination_ids=communes.index)
    result = accessibility(costs, points["population"], gps.astype(float), cutoff=30.0, scale=1e5)
    reached = gps.sum() - sum(result.attrs["unreached_supply"].values())
    assert (result["access"] * result["demand"]).sum() / 1e5 == pytest.approx(reached, rel=1e-9)
    assert result["access"].gt(0).mean() > 0.9

    grid = accessibility_grid(result.set_index("id")["access"], points, template)
    tif = write_geotiff(grid, tmp_path / "access_974.tif")
    import rasterio

    with rasterio.open(tif) as dataset:
        band = dataset.read(1, masked=True)
        assert dataset.crs.to_epsg() == 2975 and dataset.transform == template.transform
    assert int(band.count()) == 1310
    values = band.data[points["row"].to_numpy(), points["col"].to_numpy()]
    assert values.tolist() == pytest.approx(result["access"].tolist())

    # Cells → communes, then population-weighted means per commune.
    codes = assign_points(points, communes, ["insee", "bv2012"])
    by_commune = aggregate(result, codes, {"commune": "insee", "bv2012": "bv2012"})
    assert set(by_commune.loc[by_commune["level"] == "commune", "code"]) <= set(communes.index)
    assert by_commune.loc[by_commune["level"] == "commune", "units"].sum() == 1310


def test_national_commune_run(built) -> None:
    run = commune_accessibility(built, cutoff=30.0)
    communes = run.communes
    layer = read_layer(built, "communes", columns=["insee"])
    assert len(communes) == len(layer) and communes["insee"].is_unique
    assert communes["gp_count"].sum() == read_layer(built, "gp_supply")["gp_count"].sum()
    assert run.settings["gp_outside_communes"] == 0
    # Supply conservation per territory (every GP has someone within reach).
    for _territory, part in communes.groupby("territory"):
        assert (part["access"] * part["population"]).sum() / 1e5 == pytest.approx(part["gp_count"].sum(), rel=1e-9)
    # Département means are the population-weighted commune means.
    dep = communes[communes["departement"] == "23"]
    row = run.aggregates.query("level == 'departement' and code == '23'").iloc[0]
    assert row["access"] == pytest.approx(np.average(dep["access"], weights=dep["population"]), rel=1e-12)
    assert set(run.aggregates["level"]) == {"bv2012", "epci", "departement", "region"}
    # Compared with the DREES APL: correlated, not equal (counts vs activity, straight lines vs roads).
    france = run.comparison.query("region == 'all' and level == 'commune'").set_index("year")
    assert set(france.index) == {2022, 2023} and (france["n"] > 34_000).all()
    assert (france["spearman"] > 0.4).all() and (france["spearman"] < 0.95).all()


def test_weight_matrix_drops_out_of_catchment_pairs() -> None:
    costs = od_costs(OD, cutoff=None)
    matrix = weight_matrix(costs, drees(), cutoff=30.0)
    assert matrix.shape == (3, 2) and matrix.nnz == 4  # C-X beyond the cut-off, A-Y weight 0
    _, ratio = floating_catchment(matrix, POP.to_numpy(), GPS.to_numpy())
    assert ratio.tolist() == pytest.approx([2 / (100 + 200 * 2 / 3), 1 / (200 + 300 * 2 / 3)])


# --------------------------------------------------------------------------- command line
def test_cli_access(built, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from zonage.cli import app
    from zonage.cli.access import register

    if "access" not in {c.name for c in app.registered_commands}:
        register(app)
    (tmp_path / "processed").mkdir()
    for name in ("communes", "gp_supply.parquet", "apl_communes.parquet", "manifest.json"):
        (tmp_path / "processed" / name).symlink_to(built.processed / name)
    runner = CliRunner()
    result = runner.invoke(app, ["--data", str(tmp_path), "access", "--territory", "974", "--territory", "972",
                                 "--method", "2sfca", "--cutoff", "20"])
    assert result.exit_code == 0, result.output
    assert "corrélation avec l'APL DREES 2023" in result.output
    table = pd.read_csv(tmp_path / "processed" / "access_communes.csv", dtype={"insee": str})
    assert len(table) == 58 and table["insee"].str[:3].isin(["974", "972"]).all()
    assert (tmp_path / "processed" / "access_territories.csv").exists()
    assert (tmp_path / "processed" / "access_vs_drees.csv").exists()
    bad = runner.invoke(app, ["--data", str(tmp_path), "access", "--speeds", "5:30,fast"])
    assert bad.exit_code == 2 and "speeds" in bad.output


def test_cli_access_on_a_grid(mirror: Path, built, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from zonage.cli import app
    from zonage.cli.access import register

    if "access" not in {c.name for c in app.registered_commands}:
        register(app)
    (tmp_path / "processed").mkdir()
    for name in ("communes", "gp_supply.parquet"):
        (tmp_path / "processed" / name).symlink_to(built.processed / name)
    cells = gpd.read_file(mirror / "population" / "Filosofi2017_carreaux_1km_reun.gpkg")
    raster = write_geotiff(rasterize_cells(cells, "Ind", 1000.0), tmp_path / "pop.tif")
    runner = CliRunner()
    result = runner.invoke(app, ["--data", str(tmp_path), "access", "--grid", str(raster), "--territory", "974"])
    assert result.exit_code == 0, result.output
    assert "1\u202f310 carreaux habités" in result.output
    table = pd.read_csv(tmp_path / "processed" / "access_grid_cells.csv", dtype={"insee": str})
    assert len(table) == 1310 and table["insee"].str.startswith("974").all() and table["access"].notna().all()
    territories = pd.read_csv(tmp_path / "processed" / "access_grid_territories.csv", dtype={"code": str})
    assert set(territories["level"]) == {"commune", "bv2012", "epci", "departement"}
    # The département mean is the population-weighted mean over all cells.
    dep = territories.query("level == 'departement'")
    assert dep["access"].iloc[0] == pytest.approx(np.average(table["access"], weights=table["population"]))
    assert (tmp_path / "processed" / "access_grid.tif").exists()
    bad = runner.invoke(app, ["--data", str(tmp_path), "access", "--grid", str(raster)])
    assert bad.exit_code == 2 and "territory" in bad.output


def test_cli_errors_are_user_errors() -> None:
    from zonage.access.costs import parse_speeds

    assert parse_speeds("5:30,20:60,80") == ((5.0, 30.0), (20.0, 60.0), (math.inf, 80.0))
    with pytest.raises(ZonageError):
        parse_speeds("5:30,20:60")


def test_cutoff_beyond_the_costs_kept_is_refused() -> None:
    costs = od_costs(OD, cutoff=20.0)
    with pytest.raises(ValueError, match="only"):
        accessibility(costs, POP, GPS, cutoff=30.0)
    assert accessibility(costs, POP, GPS, cutoff=10.0, method="2sfca").set_index("id")["access"]["A"] == 0.02
