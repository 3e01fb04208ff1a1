"""A real browser opens the Grand Est map (headless Debian Chromium through selenium).

Nothing is fetched from the Internet: the map is written without tiles, exactly as
``zonage map`` writes it (Leaflet inlined from the package's copy, the HTML opened as it is,
never rewritten), and Chromium resolves no host name at all. The test asserts that no
JavaScript error occurs, that the layers, legend, scale and search box exist, that clicking
a marker opens its popup, and that a structure named ``<img src=x onerror=alert(1)>`` is
shown as text without running.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zonage.config import Paths
from zonage.maps.folium_map import LEAFLET_CSS, LEAFLET_JS, LEAFLET_VERSION

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
XSS = "<img src=x onerror=alert(1)>"

#: Installed before any page script: records errors and alert() calls.
WATCH = """
window.__errors = [];
window.__alerts = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || e.type)); }, true);
window.addEventListener('unhandledrejection', function (e) { window.__errors.push(String(e.reason)); });
window.alert = function (m) { window.__alerts.push(String(m)); };
"""


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    yield from _browser()


def _browser() -> Iterator[object]:
    """A headless Chromium that resolves no host name (one per map kind: pages never share a window)."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        _missing("Debian chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed: pip install -e '.[test]'")
    profile = tempfile.mkdtemp(prefix="zonage-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     f"--user-data-dir={profile}", "--window-size=1400,1000",
                     "--host-resolver-rules=MAP * ~NOTFOUND"):  # no name resolves: nothing leaves the machine
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: selenium-manager never runs, nothing is downloaded.
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(60)
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(built: Paths, driver: object, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from test_maps import XSS as XSS_NAME
    from test_maps import hostile_rows, region_rows

    from zonage.maps import write_region_map

    assert XSS_NAME == XSS
    folder = tmp_path_factory.mktemp("browser")
    rows = hostile_rows(region_rows(built, "44"))
    path = write_region_map(built, "44", rows, folder, tiles=None)
    html = path.read_text(encoding="utf-8")
    assert LEAFLET_JS not in html and LEAFLET_CSS not in html
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", html)  # nothing to fetch
    _open(driver, path)
    xss_finess = rows.loc[rows["nom"] == XSS, "finess"].iloc[0]
    return {"driver": driver, "xss_finess": xss_finess, "rows": rows}


def _open(driver: object, path: Path) -> None:
    """Open the map file as written (no rewriting, no network) and wait until its controls are built."""
    html = path.read_text(encoding="utf-8")
    assert LEAFLET_JS not in html and LEAFLET_CSS not in html
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", html)  # nothing to fetch
    driver.get(path.as_uri())
    deadline = time.monotonic() + 90
    while not driver.execute_script("return window.zonageReady === true"):
        errors = driver.execute_script("return window.__errors")
        assert not errors, errors
        assert time.monotonic() < deadline, "the map did not finish loading"
        time.sleep(0.2)


def _no_errors(driver: object) -> None:
    assert driver.execute_script("return window.__errors") == []
    assert driver.execute_script("return window.__alerts") == []
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == [], severe


def test_map_loads_without_javascript_errors(page: dict) -> None:
    driver = page["driver"]
    _no_errors(driver)
    assert driver.execute_script("return typeof L === 'object' && L.version") == LEAFLET_VERSION


def test_layers_legend_scale_and_search_exist(page: dict) -> None:
    from selenium.webdriver.common.by import By

    driver = page["driver"]
    labels = [e.text.strip() for e in driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")]
    assert labels == ["Zonage médecins (ZIP, ZAC…)", "APL médecins généralistes (DREES 2023)",
                      "Limites départementales", "Quartiers prioritaires (QPV)", "Structures (éligibilité)"]
    counts = driver.execute_script("""
        var l = zonage.layers;
        return {zoning: l.zoning.getLayers().length, qpv: l.qpv.getLayers().length,
                structures: l.structures.getLayers().length, apl_shown: zonage.map.hasLayer(l.apl)};""")
    assert counts["zoning"] == 5115 and counts["qpv"] > 100 and counts["structures"] == len(page["rows"])
    assert counts["apl_shown"] is False
    legend = driver.find_element(By.CSS_SELECTOR, ".zonage-legend").text
    for text in ("ZIP — zone d'intervention prioritaire", "ZAC — zone d'action complémentaire", "Hors zonage",
                 "QPV", "Éligible", "Sources"):
        assert text in legend, text
    assert "≤ 2,5" not in legend  # the APL layer is off: its legend too
    assert driver.find_element(By.CSS_SELECTOR, ".leaflet-control-scale-line").text.endswith(("km", "m"))
    # the APL layer is switched on from the layer control, and its legend with it
    checkbox = driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays input")[1]
    checkbox.click()
    assert driver.execute_script("return zonage.map.hasLayer(zonage.layers.apl)") is True
    assert "≤ 2,5" in driver.find_element(By.CSS_SELECTOR, ".zonage-legend").text
    checkbox.click()
    _no_errors(driver)


def test_search_box_finds_a_commune(page: dict) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = page["driver"]
    box = driver.find_element(By.CSS_SELECTOR, ".zonage-search input")
    box.clear()
    box.send_keys("Chalons en Champ")  # accents and hyphens are folded
    choices = [li.text for li in driver.find_elements(By.CSS_SELECTOR, ".zonage-search li")]
    assert choices and choices[0] == "Châlons-en-Champagne — 51 (51108)"
    box.send_keys(Keys.ENTER)
    WebDriverWait(driver, 10).until(
        lambda d: "Châlons" in "".join(e.text for e in d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content")))
    popup = driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-content").text
    assert "Châlons-en-Champagne" in popup and "Zonage :" in popup and "APL" in popup
    assert driver.execute_script("return zonage.map.getZoom()") >= 10
    _no_errors(driver)


def test_clicking_a_marker_opens_its_popup_and_names_stay_text(page: dict) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = page["driver"]
    driver.execute_script("zonage.map.closePopup();")
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return !zonage.map._animatingZoom"))
    element = driver.execute_script("""
        var wanted = arguments[0], target = null;
        zonage.layers.structures.eachLayer(function (l) {
          if (l.feature.properties.f === wanted) { target = l; }
        });
        zonage.map.setView(target.getLatLng(), 15, {animate: false});
        target.bringToFront();
        return target.getElement();""", page["xss_finess"])
    where = "var r = arguments[0].getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];"
    seen: list[list[float]] = []

    def settled(d: object) -> bool:  # drawn, inside the window, and no longer moving
        seen.append(d.execute_script(where, element))
        x, y = seen[-1]
        return len(seen) > 1 and seen[-2] == seen[-1] and 0 < x < 1400 and 0 < y < 1000

    WebDriverWait(driver, 10, poll_frequency=0.2).until(settled)
    element.click()  # a real click on the SVG marker
    WebDriverWait(driver, 10).until(
        lambda d: XSS in "".join(e.text for e in d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content")))
    content = driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-content")
    text = content.text
    assert XSS in text  # shown as text…
    assert content.find_elements(By.TAG_NAME, "img") == []  # …never as an element
    assert f"N° FINESS : {page['xss_finess']}" in text and "Catégorie :" in text and "Adresse :" in text
    assert "400 médecins généralistes – volet 2" in text and ("éligible" in text or "à vérifier" in text)
    assert "ZONE_" not in text and "STRUCTURE_KIND" not in text  # sentences, never reason codes
    time.sleep(0.3)
    _no_errors(driver)


def test_template_like_and_script_names_are_inert(page: dict) -> None:
    driver = page["driver"]
    props = driver.execute_script("""
        var out = null;
        zonage.layers.structures.eachLayer(function (l) {
          if (l.feature.properties.h.indexOf('7 * 7') >= 0) { out = zonage.structurePopup(l.feature.properties); }
        });
        return out;""")
    assert "{{ 7 * 7 }}" in props and "&lt;/script&gt;&lt;script&gt;alert(2)" in props
    _no_errors(driver)


def test_scheme_selector_recolours_markers(page: dict) -> None:
    """Issue #13: one colour for many schemes; the selector shows each scheme's own status."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = page["driver"]
    select = Select(driver.find_element(By.CSS_SELECTOR, ".zonage-scheme select"))
    assert select.first_selected_option.text.startswith("dispositifs MG")
    names = [o.text for o in select.options]
    assert any("volet 2" in n for n in names)
    count = "var n = {}; zonage.layers.structures.eachLayer(function (l) { var c = l.options.fillColor;" \
            " n[c] = (n[c] || 0) + 1; }); return n;"
    before = driver.execute_script(count)
    select.select_by_index(next(i for i, n in enumerate(names) if "ASR" in n))
    after = driver.execute_script(count)
    assert after != before and len(after) == 1  # ASR: not applicable in Grand Est, one colour
    select.select_by_index(0)
    assert driver.execute_script(count) == before
    _no_errors(driver)


def test_search_ranks_the_exact_name_first(page: dict) -> None:
    from selenium.webdriver.common.by import By

    driver = page["driver"]
    box = driver.find_element(By.CSS_SELECTOR, ".zonage-search input")
    box.clear()
    box.send_keys("metz")
    choices = [li.text for li in driver.find_elements(By.CSS_SELECTOR, ".zonage-search li")]
    assert choices[0] == "Metz — 57 (57463)" and any(c.startswith("Metzeresche") or c.startswith("Metzing")
                                                      for c in choices[1:])
    box.clear()
    _no_errors(driver)


def _legend_parts(driver: object) -> dict[str, bool]:
    """Legend part (by layer key) → shown."""
    return driver.execute_script("""
        var out = {};
        zonage.legend.getContainer().querySelectorAll('[data-layer]').forEach(function (el) {
          out[el.getAttribute('data-layer')] = out[el.getAttribute('data-layer')] || el.style.display !== 'none';
        });
        return out;""")


def test_legend_follows_the_visible_layers_and_unknown_is_hatched(page: dict) -> None:
    """Issue #13: the legend shows only the layers on the map; HZ grey, "no class" hatched (SVG pattern)."""
    from selenium.webdriver.common.by import By

    driver = page["driver"]
    assert _legend_parts(driver) == {"zoning": True, "apl": False, "departements": True, "qpv": True,
                                     "structures": True}
    boxes = driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays input")
    boxes[1].click()  # APL on
    assert _legend_parts(driver)["apl"] is True
    boxes[0].click()  # zoning off
    parts = _legend_parts(driver)
    assert parts["zoning"] is False and parts["apl"] is True
    legend = driver.find_element(By.CSS_SELECTOR, ".zonage-legend").text
    assert "Hors zonage" not in legend and "≤ 2,5" in legend
    boxes[0].click()
    boxes[1].click()
    assert _legend_parts(driver)["zoning"] is True and _legend_parts(driver)["apl"] is False
    fills = driver.execute_script("""
        var n = {};
        zonage.layers.zoning.eachLayer(function (l) { n[l.options.fillColor] = (n[l.options.fillColor] || 0) + 1; });
        return [n, zonage.classFill('unknown'), !!document.getElementById('zonage-hatch')];""")
    counts, hatch, pattern = fills
    assert counts.get("#c8c8c8", 0) > 100  # HZ grey
    assert hatch == "url(#zonage-hatch)" and pattern is True
    _no_errors(driver)


@pytest.fixture(scope="module")
def national(built: Paths, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The national map as ``zonage map --national --no-tiles`` writes it, in its own browser."""
    from zonage.maps import write_national_map

    path = write_national_map(built, tmp_path_factory.mktemp("national"), tiles=None)
    for browser in _browser():
        _open(browser, path)
        yield browser


def test_national_map_opens_offline_with_the_overseas_regions_reachable(national: object) -> None:
    from selenium.webdriver.common.by import By

    driver = national
    _no_errors(driver)
    assert driver.execute_script("return typeof L === 'object' && L.version") == LEAFLET_VERSION
    state = driver.execute_script("""
        return {communes: zonage.layers.zoning.getLayers().length, canvas: zonage.map.options.preferCanvas,
                centre: [zonage.map.getCenter().lat, zonage.map.getCenter().lng]};""")
    assert state["communes"] >= 34_800 and state["canvas"] is True
    assert 42 < state["centre"][0] < 51.5 and -5 < state["centre"][1] < 9  # opens on mainland France
    buttons = driver.find_elements(By.CSS_SELECTOR, ".zonage-views button")
    assert [b.text for b in buttons] == ["Métropole", "Guadeloupe", "Martinique", "Guyane", "La Réunion",
                                         "Mayotte"]
    boxes = {"Guadeloupe": (15.8, 16.6, -61.9, -61.0), "Martinique": (14.3, 14.9, -61.3, -60.8),
             "Guyane": (2.0, 5.8, -54.7, -51.5), "La Réunion": (-21.45, -20.85, 55.2, 55.85),
             "Mayotte": (-13.05, -12.6, 45.0, 45.35), "Métropole": (41, 51.5, -5.5, 10)}
    for button in buttons:
        button.click()
        lat, lon = driver.execute_script("var c = zonage.map.getCenter(); return [c.lat, c.lng];")
        south, north, west, east = boxes[button.text]
        assert south < lat < north and west < lon < east, (button.text, lat, lon)
    legend = driver.find_element(By.CSS_SELECTOR, ".zonage-legend").text
    assert "Classe non renseignée (hachuré)" in legend and "sont dessinées d'un seul tenant" in legend
    assert "QPV 2024 : contours ANCT" in legend and "FINESS" not in legend  # sources true to the layers
    # La Réunion has no class in the zoning file: hatched by a canvas pattern, not a flat colour
    hatched = driver.execute_script("""
        var n = 0, total = 0;
        zonage.layers.zoning.eachLayer(function (l) {
          if (l.feature.properties.i.indexOf('974') !== 0) { return; }
          total++;
          if (l.options.fillColor instanceof CanvasPattern) { n++; }
        });
        return [n, total];""")
    assert hatched[0] == hatched[1] == 24
    _no_errors(driver)


def test_national_search_reaches_an_overseas_commune(national: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = national
    box = driver.find_element(By.CSS_SELECTOR, ".zonage-search input")
    box.clear()
    box.send_keys("saint-denis")
    choices = [li.text for li in driver.find_elements(By.CSS_SELECTOR, ".zonage-search li")]
    assert "Saint-Denis — 974 (97411)" in choices and "Saint-Denis — 93 (93066)" in choices
    box.send_keys(Keys.ENTER)
    WebDriverWait(driver, 10).until(
        lambda d: "Saint-Denis" in "".join(e.text for e in d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content")))
    _no_errors(driver)


def test_notebook_map_output_opens_offline(built: Paths, tmp_path: Path) -> None:
    """The map a notebook cell shows (``Workspace.show``: an iframe holding the whole page) runs offline."""
    from zonage import Workspace

    ws = Workspace(built.data, mirror=built.mirror, build=False)
    cell = ws.show(ws.map("28"))._repr_html_()  # what Jupyter stores in the cell's output, as is
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", cell.split("srcdoc=", 1)[0])
    page = tmp_path / "notebook_output.html"
    page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{cell}</body></html>",
                    encoding="utf-8")
    for browser in _browser():
        browser.get(page.as_uri())
        browser.switch_to.frame(0)
        deadline = time.monotonic() + 90
        while not browser.execute_script("return window.zonageReady === true"):
            assert time.monotonic() < deadline, "the notebook map did not finish loading"
            time.sleep(0.2)
        assert browser.execute_script("return typeof L === 'object' && L.version") == LEAFLET_VERSION
        # offline, only the background tiles (images the browser asks OpenStreetMap for) fail to load
        failed = browser.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
        assert all(name.startswith("https://tile.openstreetmap.org/") for name in failed), failed
        assert browser.execute_script("return document.querySelectorAll('.leaflet-interactive').length") > 100
