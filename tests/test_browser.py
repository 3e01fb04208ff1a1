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
    driver.get(path.as_uri())  # the file as written: no rewriting, no network
    deadline = time.monotonic() + 60
    while not driver.execute_script("return window.zonageReady === true"):
        errors = driver.execute_script("return window.__errors")
        assert not errors, errors
        assert time.monotonic() < deadline, "the map did not finish loading"
        time.sleep(0.2)
    xss_finess = rows.loc[rows["nom"] == XSS, "finess"].iloc[0]
    return {"driver": driver, "xss_finess": xss_finess, "rows": rows}


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
                 "≤ 2,5", "QPV", "Éligible", "Sources"):
        assert text in legend, text
    assert driver.find_element(By.CSS_SELECTOR, ".leaflet-control-scale-line").text.endswith(("km", "m"))
    # the APL layer is switched on from the layer control
    checkbox = driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays input")[1]
    checkbox.click()
    assert driver.execute_script("return zonage.map.hasLayer(zonage.layers.apl)") is True
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
