"""The lab in a real browser: Debian's headless Chromium driven by Selenium loads each page, types into
the tokenizer explorer and checks what it renders, and saves a screenshot of every page.

Skipped with a reason where no browser is installed (`make test-browser` installs Debian's `chromium`
and `chromium-driver`, and selenium). Screenshots go to $GROUNDUP_SCREENSHOTS (`make lab-screenshots`
sets docs/images/lab), else to the test's temporary folder. The pages that run SmolLM2 (next token,
attention, chat, paged KV) are one `slow` test; the tokenizer explorer and the dashboard run by default.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (make test-browser)")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="no chromium/chromedriver on PATH (make test-browser installs them on Debian)",
)
WAIT_S = 180  # the model pages wait for SmolLM2's forward passes on a loaded 2-core machine


@pytest.fixture(scope="module")
def lab_url(smollm2, smollm2_tokenizer):
    from groundup.lab.app import create_app
    from groundup.lab.state import LabState
    from groundup.serve.server import BackgroundServer
    from groundup.tokenizers.loaders import load_named

    state = LabState(model=smollm2, tokenizer=smollm2_tokenizer)
    state.tokenizers = {
        "cl100k": load_named("cl100k"),
        "smollm2": smollm2_tokenizer,
        "minilm": load_named("minilm"),
    }
    with BackgroundServer(create_app(state)) as url:
        yield url


@pytest.fixture(scope="module")
def lab_url_no_model(smollm2_tokenizer, tmp_path_factory):
    """The lab without a model (tokenizers and the dashboard need none): loads in seconds."""
    from groundup.lab.app import create_app
    from groundup.lab.state import LabState
    from groundup.serve.server import BackgroundServer
    from groundup.tokenizers.loaders import load_named

    state = LabState(model=object(), tokenizer=smollm2_tokenizer)
    state.tokenizers = {
        "cl100k": load_named("cl100k"),
        "smollm2": smollm2_tokenizer,
        "minilm": load_named("minilm"),
    }
    with BackgroundServer(create_app(state)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("GROUNDUP_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_for(driver, css: str, timeout: float = WAIT_S):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def no_error(driver) -> None:
    from selenium.webdriver.common.by import By

    assert driver.find_element(By.ID, "error").text == ""


def screenshot(driver, folder: Path, name: str) -> Path:
    """A full-page PNG, reduced to a 64-colour palette so the committed copies stay small."""
    from PIL import Image

    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1200, min(max(600, height + chrome), 2400))
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)
    driver.set_window_size(1200, 900)
    return path


@pytest.mark.module("3.2")
def test_tokenizer_explorer_counts_what_it_shows(browser, lab_url_no_model, shots):
    from selenium.webdriver.common.by import By

    browser.get(lab_url_no_model + "/tokenizer.html")
    wait_for(browser, ".tokenizer[data-name=minilm]")
    box = browser.find_element(By.ID, "text")
    box.clear()
    text = "Hello wörld! Tokenizers split unbelievably long words: naïve café, 1234567."
    box.send_keys(text)
    wait_for(browser, ".tokenizer[data-name=cl100k] .count[data-count]")
    from selenium.webdriver.support.ui import WebDriverWait

    from groundup.tokenizers.loaders import load_named

    expected = {"cl100k": len(load_named("cl100k").encode(text))}

    def rendered(driver):
        card = driver.find_element(By.CSS_SELECTOR, ".tokenizer[data-name=cl100k]")
        return int(card.find_element(By.CLASS_NAME, "count").text) == expected["cl100k"]

    WebDriverWait(browser, 30).until(rendered)
    for card in browser.find_elements(By.CLASS_NAME, "tokenizer"):
        count = int(card.find_element(By.CLASS_NAME, "count").text)
        chips = card.find_elements(By.CLASS_NAME, "tok")
        assert count == len(chips) > 0, card.get_attribute("data-name")
    no_error(browser)
    assert screenshot(browser, shots, "tokenizer").stat().st_size > 0


def test_progress_page_shows_every_track(browser, lab_url_no_model, shots):
    from selenium.webdriver.common.by import By

    browser.get(lab_url_no_model + "/")
    wait_for(browser, ".track")
    assert len(browser.find_elements(By.CLASS_NAME, "track")) == 4
    no_error(browser)
    screenshot(browser, shots, "progress")


@pytest.mark.slow
@pytest.mark.module("2.1", "2.2", "0.5")
def test_model_pages_render(browser, lab_url, shots):
    from selenium.webdriver.common.by import By

    browser.get(lab_url + "/next-token.html")
    wait_for(browser, "#table tr.kept")
    assert "Paris" in browser.find_element(By.ID, "table").text
    no_error(browser)
    screenshot(browser, shots, "next-token")

    browser.get(lab_url + "/attention.html")
    wait_for(browser, "figure.head canvas")
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.head")) == 9  # SmolLM2's query heads
    no_error(browser)
    screenshot(browser, shots, "attention")

    browser.get(lab_url + "/chat.html")
    browser.find_element(By.ID, "max_tokens").clear()
    browser.find_element(By.ID, "max_tokens").send_keys("24")
    browser.find_element(By.ID, "send").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, WAIT_S).until(lambda d: "finish" in d.find_element(By.ID, "stats").text)
    assert "tokens/s" in browser.find_element(By.ID, "speed").text
    assert browser.find_element(By.CSS_SELECTOR, ".msg.assistant").text.strip()
    no_error(browser)
    screenshot(browser, shots, "chat")

    browser.get(lab_url + "/serving.html")
    wait_for(browser, ".block.used")
    assert len(browser.find_elements(By.CLASS_NAME, "block")) == 24
    no_error(browser)
    screenshot(browser, shots, "serving")
