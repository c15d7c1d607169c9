"""The live web view at / in a real headless Chromium: the orbit plot of
the BPMs, updated after a steerer write over CA (caproto); a BPM's name on
hover; a converter found by the search and set from the page; a BBA
result in the plot and table. Saves target/web-view.png (README)."""
import math
import time
from pathlib import Path

import requests
from selenium.webdriver import ActionChains
from selenium.webdriver.common.by import By

from browser import chromium
from conftest import ROOT, client_users
from helpers import wait_for
from ops_helpers import OwnIoc

TIMEOUT_S = 20.0
SCREENSHOT = ROOT / "target" / "web-view.png"


def view(driver, expr):
    return driver.execute_script(f"return window.twinView.{expr};")


def marker_ys(driver):
    """The plotted horizontal orbit (the page redraws it on every update)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#orbit-x circle.marker')).map(c => c.getAttribute('cy'));")


def positioned_slots(names, s):
    """Orbit slots of BPMs with a name and a position in the lattice."""
    return [i for i, (n, si) in enumerate(zip(names, s)) if n and math.isfinite(si)]


def test_the_orbit_plot_follows_a_ca_write_and_the_page_writes_and_shows_bba():
    ioc = OwnIoc().start().wait_http()
    try:
        ctx = ioc.ca(client_users()[0])
        orbit, names, spos, steerer, hs2 = ioc.ca_pvs(
            ctx, "ORBITCC:rdPos", "ORBITCC:rdBpmNames", "ORBITCC:rdSPos", "HS1PD1R:set", "HS1PD2R:set")
        slots = positioned_slots(names.read().data, spos.read().data)
        assert len(slots) == 123  # of 128 orbit slots: 5 spare slots have no lattice position
        # the refused write (99 A) is the one expected error
        with chromium(expected_errors=["/twin/setpoints - Failed to load resource: the server responded with a status of 422"]) as driver:
            driver.get(ioc.ioc.http + "/")
            wait_for("the orbit plot", lambda: view(driver, "plottedBpms") == len(slots), TIMEOUT_S, 0.1)
            assert driver.find_element(By.ID, "orbit-x").get_attribute("data-bpms") == str(len(slots))
            assert len(driver.find_elements(By.CSS_SELECTOR, "#orbit-x circle.marker")) == len(slots)
            assert len(driver.find_elements(By.CSS_SELECTOR, "#orbit-y circle.marker")) == len(slots)
            assert view(driver, "orbit") == list(orbit.read().data)
            assert driver.find_element(By.ID, "model-status").text == "model VALID"
            before = marker_ys(driver)

            # a steerer write over CA moves the plotted orbit to the IOC's orbit
            steerer.write(0.02, wait=True, timeout=TIMEOUT_S)
            want = list(orbit.read().data)
            wait_for("the plotted orbit to follow", lambda: view(driver, "orbit") == want, TIMEOUT_S, 0.05)
            assert marker_ys(driver) != before

            # hover: the nearest BPM's name
            plot = driver.find_element(By.ID, "orbit-x")
            label, dx, dy = driver.execute_script("""
                const svg = document.getElementById('orbit-x'), box = svg.getBoundingClientRect();
                const c = svg.querySelectorAll('circle.marker')[10], r = c.getBoundingClientRect();
                return [c.dataset.label, r.x + r.width / 2 - (box.x + box.width / 2),
                        r.y + r.height / 2 - (box.y + box.height / 2)];""")
            ActionChains(driver).move_to_element_with_offset(plot, int(dx), int(dy)).perform()
            tip = driver.find_element(By.ID, "tooltip")
            wait_for("the tooltip", lambda: tip.is_displayed(), TIMEOUT_S, 0.05)
            assert tip.text.startswith(label + " ") and "µm" in tip.text, (label, tip.text)

            # converter search, set from the page (REST), readback over the socket
            search = driver.find_element(By.ID, "converter-search")
            search.send_keys("HS1PD2")
            wait_for("the search result", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#converter-rows tr")) == 1,
                     TIMEOUT_S, 0.05)
            row = driver.find_element(By.CSS_SELECTOR, "#converter-rows tr")
            row.find_element(By.TAG_NAME, "input").send_keys("0.01")
            row.find_element(By.TAG_NAME, "button").click()
            wait_for("the write from the page", lambda: hs2.read().data[0] == 0.01, TIMEOUT_S, 0.05)
            readback = row.find_element(By.CSS_SELECTOR, '[data-pv="HS1PD2R:rdbk"]')
            wait_for("the readback in the page", lambda: readback.text == "0.0100", TIMEOUT_S, 0.05)
            row.find_element(By.TAG_NAME, "input").clear()
            row.find_element(By.TAG_NAME, "input").send_keys("99")
            row.find_element(By.TAG_NAME, "button").click()
            message = driver.find_element(By.ID, "converter-message")
            wait_for("the refusal in the page", lambda: "outside its drive limits" in message.text, TIMEOUT_S, 0.05)
            assert hs2.read().data[0] == 0.01

            # a BBA measurement appears in the plot and the table
            assert requests.post(ioc.ioc.http + "/bba/run/Q3M2T8R", timeout=TIMEOUT_S).status_code == 200
            # the table is redrawn with every BBA update: read it in one script
            def measured():
                return driver.execute_script(
                    "return Array.from(document.querySelectorAll('#bba-rows tr')).map(r => r.cells[0].textContent);")
            wait_for("the BBA result in the page", lambda: measured() == ["Q3M2T8R"], 60, 0.1)
            assert len(driver.find_elements(By.CSS_SELECTOR, "#bba-plot circle.marker")) == 2  # x and y
            search.clear()
            search.send_keys("HS4P")
            time.sleep(1.0)  # the page's search waits for typing to pause
            driver.execute_script("window.scrollTo(0, 0)")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            assert driver.save_screenshot(str(SCREENSHOT))
            print(f"screenshot: {SCREENSHOT} ({Path(SCREENSHOT).stat().st_size} bytes)")
    finally:
        assert ioc.stop() == 0
