"""End to end against the running app: headless Chromium through the tabs, and gradio_client.

The browser checks that every tab renders, runs Exp 1 and a sweep from the Training tab and
sees clear messages for bad uploads; the API checks drive the same events as a script would.
"""

import re
import time
from pathlib import Path

import pytest
from conftest import TAB_TITLES, choose_experiment, run_row, train_reference_digits_run

from core.runs import view
from core.runs.store import RunStore
from core.serving.onnx import list_models

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"


def test_every_tab_renders(page):
    for title in TAB_TITLES:
        tab = page.get_by_role("tab", name=title, exact=True)
        tab.click()
        assert tab.get_attribute("aria-selected") == "true"


def test_exp1_runs_from_the_training_tab(page):
    page.get_by_role("tab", name="Training", exact=True).click()
    page.locator("#launch-run").click()
    status = page.locator("#run-status")
    status.get_by_text("done").wait_for(timeout=90_000)
    text = status.inner_text()
    assert "loan_exp1" in text
    auc = float(text.split("test_roc_auc")[1].split()[0])
    assert 0.9 < auc <= 1.0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "training-tab.png"), full_page=True)
    run_id = re.search(r"Run (\d+)", text).group(1)
    sync_api.expect(run_row(page, run_id)).to_contain_text("loan_exp1")


def test_bad_uploads_get_a_clear_message_and_launch_nothing(page, tmp_path):
    page.get_by_role("tab", name="Training", exact=True).click()
    page.get_by_text("Your own data: upload a CSV").click()
    upload = page.locator("#csv-upload input[type=file]")
    header_only = tmp_path / "header_only.csv"
    header_only.write_text("age,income,label\n")
    upload.set_input_files(str(header_only))
    page.get_by_text("header_only.csv has a header but no rows").wait_for(timeout=15_000)

    table = tmp_path / "clients.csv"
    table.write_text("age,income,label\n" + "".join(f"{i},{i * 3},{i % 2}\n" for i in range(40)))
    page.locator("#csv-upload input[type=file]").set_input_files(str(table))
    page.get_by_text("Choose the target column").wait_for(timeout=15_000)
    page.locator("#launch-run").click()
    page.get_by_text("Not launched: target: choose the target column").wait_for(timeout=15_000)


def test_a_sweep_from_the_training_tab_shows_its_choice(page):
    page.get_by_role("tab", name="Training", exact=True).click()
    choose_experiment(page, "Loan default · loan_exp4")
    grid = page.locator("#sweep-grid textarea")
    sync_api.expect(grid).to_have_value("dropout=0.01,0.1,0.2,0.5,0.9")
    grid.fill("dropout=0.1,0.5; epochs=2")  # any config key can be part of the grid
    page.locator("#launch-sweep").click()
    choice = page.locator("#sweep-choice")
    choice.get_by_text("Chosen on val_roc_auc").wait_for(timeout=240_000)
    sync_api.expect(choice).to_contain_text("dropout = ")
    sync_api.expect(page.locator("#sweep-table")).to_contain_text("0.5")


def test_the_api_launches_runs_and_explains_bad_configs(app_url, app_data):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/launch", "/launch_sweep", "/cancel", "/refresh_runs", "/upload_csv"} <= set(endpoints)

    form = view.config_form("loan_exp2")
    form.loc[form["key"] == "epochs", "value"] = "2"
    payload = {"headers": list(form.columns), "data": form.to_numpy().tolist()}
    run_id, status = client.predict("loan_exp2", payload, api_name="/launch")
    store = RunStore(app_data / "runs.sqlite")
    assert store.list(experiment="loan_exp2")[0].id == run_id
    assert f"**Run {run_id}** · `loan_exp2`" in status
    deadline = time.monotonic() + 120
    while not store.get(run_id).finished:
        assert time.monotonic() < deadline, "the API-launched run did not finish"
        time.sleep(0.5)
    assert store.get(run_id).status == "done"
    assert len(store.metrics(run_id)) == 2

    form.loc[form["key"] == "lr", "value"] = "0"
    payload = {"headers": list(form.columns), "data": form.to_numpy().tolist()}
    with pytest.raises(Exception, match=r"Not launched: lr must be in \(0, 10\]"):
        client.predict("loan_exp2", payload, api_name="/launch")


def draw_strokes(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw with the mouse on the digit sketchpad; points are fractions of the canvas size."""
    canvas = page.locator("#digit-sketchpad canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
        page.mouse.up()


def test_drawing_a_digit_in_the_browser_is_recognised(page):
    if "digits" not in list_models():
        pytest.skip("models/digits.onnx is not built yet (make models)")
    page.get_by_role("tab", name="Classifier", exact=True).click()
    page.locator("#recognise-digit").click()
    page.get_by_text("Draw a digit first").wait_for(timeout=15_000)

    brush = page.locator('#digit-sketchpad button[aria-label="Brush"]')
    if brush.get_attribute("aria-pressed") != "true":  # the page's script normally selects it
        brush.click()
    draw_strokes(page, [[(0.30, 0.25), (0.70, 0.25), (0.45, 0.80)]])  # a seven
    page.locator("#recognise-digit").click()
    label = page.locator("#digit-label")
    sync_api.expect(label.locator("h2")).to_have_text("7", timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "classifier-digit.png"), full_page=True)


def test_drawing_clearing_and_drawing_again_needs_no_click_on_a_tool(page):
    if "digits" not in list_models():
        pytest.skip("models/digits.onnx is not built yet (make models)")
    page.get_by_role("tab", name="Classifier", exact=True).click()
    pad = page.locator("#digit-sketchpad")
    for _ in range(2):  # a seven, cleared, then a seven again
        draw_strokes(page, [[(0.30, 0.25), (0.70, 0.25), (0.45, 0.80)]])
        page.locator("#recognise-digit").click()
        sync_api.expect(page.locator("#digit-label h2")).to_have_text("7", timeout=15_000)
        pad.locator('button[aria-label="Clear canvas"]').click()
        sync_api.expect(pad.get_by_text("select the draw tool")).to_be_hidden()
        page.locator("#recognise-digit").click()  # cleared: nothing to read
        # the newest toast: the first round's may still be fading out, hidden, in the page
        said = page.locator(".toast-body").filter(has_text="Draw a digit first").last
        sync_api.expect(said).to_be_visible(timeout=30_000)


def test_an_animal_photo_is_classified(page, screenshot):
    page.get_by_role("tab", name="Classifier", exact=True).click()
    photo = REPO / "assets" / "examples" / "cat_chelsea.jpg"
    page.locator("#animal-photo input[type=file]").set_input_files(str(photo))
    page.locator("#classify-animal").click()
    sync_api.expect(page.locator("#animal-label h2")).to_have_text("cat", timeout=30_000)
    screenshot(page, "classifier", page.locator("#animal-label"))


def test_a_text_file_named_as_a_photo_is_refused_at_upload(page, tmp_path):
    page.get_by_role("tab", name="Classifier", exact=True).click()
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture at all")
    page.locator("#animal-photo input[type=file]").set_input_files(str(fake))
    toast = page.locator(".toast-body").filter(has_text="fake.png")
    sync_api.expect(toast.first).to_be_visible(timeout=30_000)
    sync_api.expect(page.locator("#animal-photo img")).to_have_count(0)  # no broken thumbnail
    page.locator("#classify-animal").click()  # the box is empty again: Classify says so
    empty = page.locator(".toast-body").filter(has_text="Upload a photo")
    sync_api.expect(empty.first).to_be_visible(timeout=30_000)


def test_a_model_trained_in_the_run_store_can_be_chosen_and_draws_are_read_by_it(page, app_data):
    """A reference digits run (one every visitor may use) trained into the app's run store
    appears in the model list after a refresh; choosing it exports it to ONNX and the drawing
    is read by it."""
    run_id = train_reference_digits_run(app_data, epochs=3, limit_train=600)
    store = RunStore(app_data / "runs.sqlite")

    page.get_by_role("tab", name="Classifier", exact=True).click()
    page.locator("#digit-model-refresh").click()
    page.locator("#digit-model input").click()
    page.get_by_role("option", name=f"run {run_id} · digits_cnn", exact=False).click()
    page.locator("#digit-model-card-box").get_by_text("Model card").click()
    card = page.locator("#digit-model-card")
    sync_api.expect(card).to_contain_text(f"run-{run_id}", timeout=60_000)
    brush = page.locator('#digit-sketchpad button[aria-label="Brush"]')
    if brush.get_attribute("aria-pressed") != "true":
        brush.click()
    draw_strokes(page, [[(0.50, 0.20), (0.50, 0.80)]])  # a one
    page.locator("#recognise-digit").click()
    sync_api.expect(page.locator("#digit-label h2")).to_have_text(re.compile(r"^\d$"))
    assert (store.run_dir(run_id) / f"run-{run_id}.onnx").is_file()


def test_experiments_whose_data_is_missing_say_what_to_provide_and_cannot_launch(page):
    page.get_by_role("tab", name="Training", exact=True).click()
    choose_experiment(page, "AFHQ · afhq_plain (data not here)")
    text = page.locator("#experiment-text")
    sync_api.expect(text).to_contain_text("Cannot run here: AFHQ (the animal faces")
    sync_api.expect(text).to_contain_text("afhq/val/<class>/).")  # the whole message
    sync_api.expect(page.locator("#launch-run")).to_be_disabled()
    sync_api.expect(page.locator("#launch-sweep")).to_be_disabled()
    sync_api.expect(page.locator("#fetch-data")).to_be_visible()  # the hub's copy, on request
    choose_experiment(page, "Loan default · loan_exp1")
    sync_api.expect(page.locator("#launch-run")).to_be_enabled()
    sync_api.expect(page.locator("#fetch-data")).to_be_hidden()


def test_compared_runs_show_their_config_differences_and_export_as_csv(app_url):
    import pandas as pd
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    exp1, exp2 = 1, 2  # the first reference runs, loaded into the fresh store at start
    client.predict(
        None, "all", "all", "all", False, api_name="/refresh_runs"
    )  # fills the run choices
    _, _, diff = client.predict([exp1, exp2], "loss", 0.5, True, api_name="/compare_runs")
    differing = {row[0] for row in diff["data"]}
    assert {"blocks", "hidden"} <= differing and "seed" not in differing
    runs_csv, metrics_csv = client.predict([exp1, exp2], api_name="/export_runs")
    runs = pd.read_csv(runs_csv)
    assert runs["run"].tolist() == [exp1, exp2]
    assert runs["config.hidden"].tolist() == [32, 128]
    assert runs["final.test_roc_auc"].between(0.9, 1).all()
    assert pd.read_csv(metrics_csv).groupby("run").size().tolist() == [10, 10]
