"""A real headless Chromium (Debian's chromium and chromium-driver, which
`make test` installs) driven by selenium, with the flags a closed network
and a root user need."""
import contextlib
import os
import shutil
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,1500",
]


@contextlib.contextmanager
def chromium(expected_errors=()):
    """A browser session; its console log must have no errors at the end
    but those containing one of `expected_errors` (a refused request the
    test provoked shows up as a network error)."""
    assert os.path.exists(CHROMEDRIVER), "chromium-driver is not installed (make test installs it)"
    os.environ["SE_OFFLINE"] = "true"  # selenium must not fetch drivers
    profile = tempfile.mkdtemp(prefix="twin-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
        errors = [e for e in driver.get_log("browser")
                  if e["level"] == "SEVERE" and not any(x in e["message"] for x in expected_errors)]
        assert not errors, f"errors in the page: {errors}"
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
