"""Shared fixtures: an isolated run store and data directory per test, and a polling helper."""

import time
from pathlib import Path

import pytest

from benchmarks.app_process import REPO, served_app
from core.paths import allow_paths
from core.runs.store import RunStore


@pytest.fixture(scope="session", autouse=True)
def suite_files_are_readable(tmp_path_factory):
    """Let user-named paths lie in the suite's own files: pytest's base temp dir (every
    `tmp_path`, where tests write the CSVs and pictures they hand over as a user would) and the
    drawn digits under tests/. Outside them a path is confined as in the app (core.paths).

    `allow_paths` sets `DLSTUDIO_ALLOW_PATHS` in os.environ, so worker processes and the apps
    tests start inherit it; a test of the confinement itself removes it for that test
    (monkeypatch), and a security test's app gets an explicit clean environment."""
    allow_paths([tmp_path_factory.getbasetemp(), REPO / "tests" / "drawn_digits"])


HOME_FAQ = [
    ("kettle", "How do I descale a kettle?", "Boil white vinegar in it, then rinse twice."),
    ("bike", "Why does my bicycle chain squeak?", "It is dry: oil every link and wipe it."),
    ("plant", "Why are my basil leaves yellow?", "Too much water; let the soil dry out."),
    ("bread", "Why is my sourdough flat?", "The starter was weak; feed it twice a day."),
    ("tyre", "How do I fix a punctured tyre?", "Find the hole in a bowl of water and patch."),
    ("paint", "How long must wall paint dry?", "Four hours between coats, a day to harden."),
    ("sofa", "How do I clean a velvet sofa?", "Brush it, then steam it from a distance."),
    ("frost", "How do I defrost a freezer fast?", "Switch it off and put bowls of hot water."),
    ("lawn", "When should I first mow a lawn?", "When the grass is about 8 cm, on a dry day."),
    ("glass", "How do I remove a stuck glass lid?", "Run hot water over the rim for a minute."),
]


@pytest.fixture
def home_records() -> list[dict]:
    """A ten-entry FAQ of household questions, as corpus records (collection "home"). Each
    entry's question names its topic and its answer does not repeat the topic's key word, so
    only a retriever that indexes the question finds some of them."""
    return [{"id": i, "question": q, "answer": a, "collection": "home"} for i, q, a in HOME_FAQ]


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    """A fresh run store; the data directory (uploads, downloads) is the test's own too."""
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("DLSTUDIO_DB", raising=False)
    return RunStore(tmp_path / "runs.sqlite")


def poll(condition, what: str, timeout_s: float = 120.0) -> None:
    """Wait until `condition()` holds; fail naming `what` after `timeout_s` (a hang guard)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def wait_until():
    return poll


@pytest.fixture(scope="module")
def one_torch_thread():
    """One PyTorch thread while a module trains in this process, the previous count restored
    after it: on a busy 2-core machine one thread trains several times faster than two (the
    inference study's model about 30x). Modules ask for it with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`, so it is set before their
    module-scoped training fixtures run."""
    import torch  # here, not at the top: most test modules never load torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- End-to-end: one app process per test session, a fresh browser page per test module. ---

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def app_data(tmp_path_factory) -> Path:
    """The running app's data directory (run store, uploads): tests may open its store."""
    return tmp_path_factory.mktemp("app-data")


@pytest.fixture(scope="session")
def app_url(app_data):
    """`python app.py` on a free loopback port, shared by every end-to-end module."""
    with served_app(app_data) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    # Assertions wait up to 20 s (Playwright's default is 5 s): on 2 busy cores a model's first
    # call can take that long; a passing check still returns as soon as it holds.
    sync_api.expect.set_options(timeout=20_000)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, app_url):
    """A fresh page on the app for each test module; tests click their own tab first."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    yield page
    page.close()


def edit_cell(page, table: str, row: int, column: int, text: str) -> None:
    """Replace a cell of an editable gr.Dataframe (`table` its elem_id; row and column from 0,
    header excluded) as a user does: select it, Enter opens its editor, type, Enter."""
    from playwright.sync_api import expect

    cell = page.locator(f'#{table} [data-testid="cell-{row}-{column}"]')
    cell.click()
    expect(cell).to_be_focused()  # a re-render after an earlier edit can swallow the click
    page.keyboard.press("Enter")
    editor = cell.locator("input, textarea").first
    editor.fill(text)
    editor.press("Enter")


def choose_experiment(page, label: str) -> None:
    """Pick an experiment in the Training tab's list by its label ("Loan default · loan_exp1")."""
    page.locator("#experiment input").click()
    page.get_by_role("option", name=label, exact=True).click()


def committed_table(text: str) -> dict[str, dict[str, str]]:
    """The committed README's results table: experiment -> column -> cell."""
    after = text.split("## Results")[1].splitlines()
    start = next(i for i, line in enumerate(after) if line.startswith("|"))
    end = next(i for i in range(start, len(after)) if not after[i].startswith("|"))
    lines = after[start:end]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def run_row(page, run_id: int | str):
    """The Training tab's runs-table row of run `run_id` (found by its id cell: the shipped
    reference runs are loan_exp1 runs too, so the experiment's name alone finds any of them)."""
    cell = page.get_by_role("gridcell", name=str(run_id), exact=True)
    return page.locator("#runs-table").get_by_role("row").filter(has=cell).first


TAB_TITLES = (  # the app's tabs, in order
    "Home",
    "Classifier",
    "Decoding",
    "Retrieval",
    "Gradient descent",
    "Metrics",
    "PQ explorer",
    "Results",
    "Training",
)
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


def save_screenshot(page, name: str, focus=None) -> Path:
    """What a user sees at the end of a tab's walk-through: the viewport, scrolled to `focus` (a
    locator) when given, kept as test-artifacts/screenshots/<name>.png. The README's images are
    these files, shrunk by `python scripts/readme_screenshots.py` into docs/screenshots/."""
    if focus is not None:
        focus.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path


@pytest.fixture
def screenshot():
    return save_screenshot


def train_reference_digits_run(app_data: Path, epochs: int, limit_train: int) -> int:
    """A small digits CNN trained into the running app's run store as a reference run (one
    every visitor may use); its id. Seconds on a CPU."""
    from dataclasses import asdict

    from core.runs.access import REFERENCE_OWNER
    from core.runs.execution import RunLogger
    from core.sharing.visitors import Visitor
    from core.vision.train import ImageTrainConfig, train_image_classifier

    config = ImageTrainConfig(
        data="digits", backbone="small_cnn", pretrained=False, input_size=28, epochs=epochs,
        limit_train=limit_train, lr=0.005,
    )  # fmt: skip
    store = RunStore(app_data / "runs.sqlite")
    run_id = store.create("digits_cnn", asdict(config), owner=Visitor(REFERENCE_OWNER, "host"))
    train_image_classifier(config, RunLogger(store, run_id))
    store.finish(run_id, "done")
    return run_id
