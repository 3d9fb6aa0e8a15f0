"""Classifier tab: draw a digit or show an animal photo; a shipped or trained ONNX model answers.

A model trained in the Training tab (`run:ID`) is listed and served only to the visitor who may
use it (`tabs.visitor`): its owner, or everyone once it is shared or when it is a reference run.
A model is chosen by name (a shipped model or `run:ID`), never by a file path.
"""

from dataclasses import dataclass

import gradio as gr

from core.embeddings import embedding_sets_of
from core.paths import REPO_ROOT, redact_paths
from core.serving.onnx import MODELS_DIR, ModelCard, ModelFileError, list_models
from core.serving.run_models import RUN_PREFIX, list_run_models, load_any_model
from core.sharing.visitors import Visitor
from core.vision.inputs import ImageInputError, drawing_to_image, load_image
from tabs.fold import developer_fold
from tabs.visitor import VisitorControls, handler

TITLE = "Classifier"
TOOL = "classifier"  # its runtime statement's key in core.hosting.runtime
TOP_K = 3
EXAMPLES = sorted(str(path) for path in (REPO_ROOT / "assets" / "examples").glob("*.jpg"))

# Gradio's sketchpad opens with no tool selected, and its clear button deselects the tool
# again ("select the draw tool to start"). Whenever neither the brush nor the eraser is
# selected, select the brush, so that drawing, clearing and drawing again needs no click on a
# tool. app.py adds every tab's HEAD to the page.
HEAD = """
<script>
new MutationObserver(() => {
  const pad = document.querySelector('#digit-sketchpad');
  if (!pad) return;
  const brush = pad.querySelector('button[aria-label="Brush"]');
  const eraser = pad.querySelector('button[aria-label="Erase"]');
  const chosen = [brush, eraser].some(tool => tool && tool.classList.contains('highlight'));
  if (brush && !chosen) brush.click();
}).observe(document.documentElement, {
  childList: true, subtree: true, attributes: true, attributeFilter: ['class'],
});
</script>
"""


def card_markdown(card: ModelCard) -> str:
    """The model card as a few lines: what it knows, what it was trained on, how well it does."""
    metrics = ", ".join(f"{name} {value:.4g}" for name, value in card.metrics.items())
    return (
        f"**Model `{card.name}`** · classes: {', '.join(card.classes)} · "
        f"input: {card.input.kind} {card.input.size}x{card.input.size}\n\n"
        f"**Data:** {card.data}\n\n**Metrics:** {metrics or 'none recorded'}\n\n"
        f"**Training:** {card.training}\n\n{card.notes}"
        + (f"\n\n{developer_fold('Rebuild: ' + card.rebuild)}" if card.rebuild else "")
    )


def checked_choice(choice: str | None) -> str:
    """`choice` when it names a model (shipped, or `run:ID`); a UI error for anything else, such
    as a file path an API client sends."""
    choice = str(choice or "")
    if choice in list_models() or choice.startswith(RUN_PREFIX):
        return choice
    raise gr.Error("Choose a model from the list: a shipped model or one of your trained runs.")


def model_failure(error: Exception) -> gr.Error:
    """A UI error in the serving code's words, with any server path cut to the file's name."""
    return gr.Error(redact_paths(str(error.args[0])))


def model_card(visitor: Visitor, choice: str) -> str:
    """The chosen model's card. A shipped card is read from its JSON alone (the ONNX session is
    created at the first prediction); a run's model is exported to ONNX here, once."""
    choice = checked_choice(choice)
    if not choice.startswith(RUN_PREFIX):
        return card_markdown(ModelCard.load(MODELS_DIR / f"{choice}.json"))
    try:
        return card_markdown(load_any_model(choice, visitor=visitor).card)
    except (KeyError, PermissionError, ValueError) as error:
        raise model_failure(error) from None


def shipped_choice(shipped_name: str) -> tuple[str, str]:
    return f"{shipped_name} (shipped)", shipped_name


def model_choices(
    visitor: Visitor, shipped_name: str, kinds: tuple[str, ...], chosen: str | None = None
) -> gr.Dropdown:
    """The shipped model first, then the trained models `visitor` may use that take these
    inputs; `chosen` (a model's key) becomes the choice, else the choice stays."""
    runs = [model for model in list_run_models(visitor=visitor) if model.input_kind in kinds]
    choices = [shipped_choice(shipped_name)] + [(m.label, m.key) for m in runs]
    if chosen is None:
        return gr.Dropdown(choices=choices)
    return gr.Dropdown(choices=choices, value=chosen)


def top_classes(visitor: Visitor, choice: str, to_image, value) -> dict[str, float]:
    """The model's top classes for a user's input, or a UI error that says what is wrong."""
    choice = checked_choice(choice)
    try:
        return dict(load_any_model(choice, visitor=visitor).top_k(to_image(value), k=TOP_K))
    except (ImageInputError, KeyError, PermissionError, ValueError, ModelFileError) as error:
        raise model_failure(error) from None


def shipped(model_name: str, heading: str) -> bool:
    """Show the panel's heading; say so and return False when the model is not shipped."""
    gr.Markdown(f"### {heading}")
    if model_name in list_models():
        return True
    gr.Markdown(
        f"*Not available here yet:* this app was started without its {model_name} model.\n\n"
        + developer_fold("`make models` builds it into models/.")
    )
    return False


def model_picker(
    shipped_name: str, kinds: tuple[str, ...], elem_id: str, visitor: VisitorControls
) -> gr.Dropdown:
    """A model choice (shipped or trained in the run store), a refresh button and the card.

    The page is built before any visitor comes, so it lists the shipped model alone; the refresh
    button adds the visitor's trained ones."""
    with gr.Row():
        picker = gr.Dropdown(
            [shipped_choice(shipped_name)],
            value=shipped_name,
            label="Model",
            info="the shipped model, or one you trained in the Training tab",
            elem_id=elem_id,
            scale=4,
        )
        refresh = gr.Button("Refresh list", size="sm", scale=1, elem_id=f"{elem_id}-refresh")
    with gr.Accordion("Model card", open=False, elem_id=f"{elem_id}-card-box"):
        card = gr.Markdown(
            card_markdown(ModelCard.load(MODELS_DIR / f"{shipped_name}.json")),
            elem_id=f"{elem_id}-card",
        )
    api_prefix = elem_id.replace("-", "_")

    def refreshed(who: Visitor) -> gr.Dropdown:
        return model_choices(who, shipped_name, kinds)

    refresh.click(
        handler(refreshed),
        visitor.inputs,
        picker,
        api_name=f"{api_prefix}_refresh",
    )
    picker.change(
        handler(model_card), [picker, *visitor.inputs], card, api_name=f"{api_prefix}_card"
    )
    return picker


@dataclass(frozen=True)
class ClassifierEntrance:
    """What a link into this tab fills: each panel's model choice (None: no such panel here)."""

    digit_model: gr.Dropdown | None
    photo_model: gr.Dropdown | None


@dataclass(frozen=True)
class DigitsPanel:
    model: gr.Dropdown | None
    to_embeddings: gr.Button | None  # opens the model's embeddings in the PQ explorer
    embeddings: str | None  # their set's name


def digits_panel(visitor: VisitorControls) -> DigitsPanel:
    if not shipped("digits", "Draw a digit"):
        return DigitsPanel(None, None, None)
    sketch = gr.Sketchpad(
        type="numpy",
        image_mode="L",
        canvas_size=(280, 280),
        fixed_canvas=True,
        layers=False,
        brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
        label="Draw one digit, 0-9",
        elem_id="digit-sketchpad",
    )
    button = gr.Button("Recognise", variant="primary", elem_id="recognise-digit")
    label = gr.Label(num_top_classes=TOP_K, label="Digit", elem_id="digit-label")
    picker = model_picker("digits", ("digit",), "digit-model", visitor)

    def recognise(who: Visitor, drawing: dict | None, choice: str):
        """Gets the drawing's files unopened (preprocess=False), like the photo below."""
        composite = (drawing or {}).get("composite")
        return top_classes(who, choice, drawing_to_image, composite and composite["path"])

    button.click(
        handler(recognise),
        [sketch, picker, *visitor.inputs],
        label,
        api_name="recognise_digit",
        preprocess=False,
        concurrency_limit=None,  # milliseconds on one ONNX Runtime thread: never waits in line
    )
    embeddings = next(iter(embedding_sets_of("digits")), None)
    to_embeddings = None
    if embeddings is not None:
        to_embeddings = gr.Button(
            "Compress its embeddings in the PQ explorer", size="sm", elem_id="digits-to-pq"
        )
    return DigitsPanel(picker, to_embeddings, embeddings)


def animals_panel(visitor: VisitorControls) -> gr.Dropdown | None:
    if not shipped("animals", "Cat, dog or wild?"):
        return None
    photo = gr.Image(
        type="filepath",
        sources=["upload", "webcam", "clipboard"],
        label="An animal photo",
        elem_id="animal-photo",
    )
    gr.Examples(EXAMPLES, inputs=photo, label="Examples (two cats, a dog, a cheetah, a lion)")
    button = gr.Button("Classify", variant="primary", elem_id="classify-animal")
    label = gr.Label(num_top_classes=TOP_K, label="Animal", elem_id="animal-label")
    picker = model_picker("animals", ("rgb", "gray"), "photo-model", visitor)

    def classify(who: Visitor, photo_file: dict | None, choice: str):
        """Gets the uploaded file unopened (preprocess=False): core.vision.inputs alone decodes it,
        with its format list and pixel limit, so a hostile file gets a plain-words refusal
        (Gradio's own decoding would fail first, with a message that names nothing)."""
        if photo_file is None:
            raise gr.Error("Upload a photo, take one with the webcam, or pick an example first.")
        return top_classes(who, choice, load_image, photo_file["path"])

    def check_upload(photo_file: dict | None):
        """An uploaded file that is no readable photo is refused at once, in the words Classify
        would use, and taken out of the box (it would show a broken thumbnail)."""
        if photo_file is None:
            return gr.skip()
        try:
            load_image(photo_file["path"])
        except ImageInputError as error:
            gr.Warning(redact_paths(str(error.args[0])))
            return None
        return gr.skip()

    photo.upload(check_upload, photo, photo, api_name="check_photo", preprocess=False)
    button.click(
        handler(classify),
        [photo, picker, *visitor.inputs],
        label,
        api_name="classify_animal",
        preprocess=False,
        concurrency_limit=None,
    )
    return picker


def build(visitor_controls: VisitorControls) -> tuple[ClassifierEntrance, DigitsPanel]:
    gr.Markdown(
        "Two ONNX models served by ONNX Runtime: a digit recogniser for your drawings and an "
        "animal-face classifier (cat / dog / wild) for photos. The cards say what each was "
        "trained on and how well it does. Models you train in the Training tab (image "
        "experiments) appear in each panel's model list, exported to ONNX at first use."
    )
    with gr.Row():
        with gr.Column():
            digits = digits_panel(visitor_controls)
        with gr.Column():
            photo_model = animals_panel(visitor_controls)
    return ClassifierEntrance(digits.model, photo_model), digits
