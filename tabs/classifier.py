"""Classifier tab: draw a digit or show an animal photo; a shipped or trained ONNX model answers."""

import gradio as gr

from core.paths import REPO_ROOT
from core.serving.onnx import MODELS_DIR, ModelCard, ModelFileError, list_models
from core.serving.run_models import RUN_PREFIX, list_run_models, load_any_model
from core.vision.inputs import ImageInputError, drawing_to_image, load_image

TITLE = "Classifier"
TOOL = "classifier"  # its runtime statement's key in core.hosting.runtime
TOP_K = 3
EXAMPLES = sorted(str(path) for path in (REPO_ROOT / "assets" / "examples").glob("*.jpg"))

# Gradio's sketchpad opens with no tool selected; pick the brush as soon as it appears, so
# a visitor can draw at once. app.py adds every tab's HEAD to the page.
HEAD = """
<script>
new MutationObserver((_, observer) => {
  const brush = document.querySelector('#digit-sketchpad button[aria-label="Brush"]');
  if (brush) { brush.click(); observer.disconnect(); }
}).observe(document.documentElement, {childList: true, subtree: true});
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
    )


def model_card(choice: str) -> str:
    """The chosen model's card. A shipped card is read from its JSON alone (the ONNX session is
    created at the first prediction); a run's model is exported to ONNX here, once."""
    if not choice.startswith(RUN_PREFIX):
        return card_markdown(ModelCard.load(MODELS_DIR / f"{choice}.json"))
    try:
        return card_markdown(load_any_model(choice).card)
    except (KeyError, ValueError) as error:
        raise gr.Error(error.args[0]) from None


def model_choices(shipped_name: str, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """The shipped model first, then the run store's trained models that take these inputs."""
    runs = [model for model in list_run_models() if model.input_kind in kinds]
    return [(f"{shipped_name} (shipped)", shipped_name)] + [(m.label, m.key) for m in runs]


def top_classes(choice: str, to_image, value) -> dict[str, float]:
    """The model's top classes for a user's input, or a UI error that says what is wrong."""
    try:
        return dict(load_any_model(choice).top_k(to_image(value), k=TOP_K))
    except (ImageInputError, KeyError, ValueError, ModelFileError) as error:
        raise gr.Error(error.args[0]) from None


def shipped(model_name: str, heading: str) -> bool:
    """Show the panel's heading; say so and return False when the model is not shipped."""
    gr.Markdown(f"### {heading}")
    if model_name in list_models():
        return True
    gr.Markdown(
        f"*Not built yet.* The {model_name} model is not in models/: `make models` builds it."
    )
    return False


def model_picker(shipped_name: str, kinds: tuple[str, ...], elem_id: str) -> gr.Dropdown:
    """A model choice (shipped or trained in the run store), a refresh button and the card."""
    with gr.Row():
        picker = gr.Dropdown(
            model_choices(shipped_name, kinds),
            value=shipped_name,
            label="Model",
            info="the shipped model, or one you trained in the Training tab",
            elem_id=elem_id,
            scale=4,
        )
        refresh = gr.Button("Refresh list", size="sm", scale=1, elem_id=f"{elem_id}-refresh")
    with gr.Accordion("Model card", open=False, elem_id=f"{elem_id}-card-box"):
        card = gr.Markdown(model_card(shipped_name), elem_id=f"{elem_id}-card")
    refresh.click(
        lambda: gr.Dropdown(choices=model_choices(shipped_name, kinds)),
        None,
        picker,
        api_name=f"{elem_id.replace('-', '_')}_refresh",
    )
    picker.change(model_card, picker, card, api_name=f"{elem_id.replace('-', '_')}_card")
    return picker


def digits_panel() -> None:
    if not shipped("digits", "Draw a digit"):
        return
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
    picker = model_picker("digits", ("digit",), "digit-model")

    def recognise(drawing: dict | None, choice: str):
        """Gets the drawing's files unopened (preprocess=False), like the photo below."""
        composite = (drawing or {}).get("composite")
        return top_classes(choice, drawing_to_image, composite and composite["path"])

    button.click(
        recognise,
        [sketch, picker],
        label,
        api_name="recognise_digit",
        preprocess=False,
        concurrency_limit=None,  # milliseconds on one ONNX Runtime thread: never waits in line
    )


def animals_panel() -> None:
    if not shipped("animals", "Cat, dog or wild?"):
        return
    photo = gr.Image(
        type="filepath",
        sources=["upload", "webcam", "clipboard"],
        label="An animal photo",
        elem_id="animal-photo",
    )
    gr.Examples(EXAMPLES, inputs=photo, label="Examples (two cats, a dog, a cheetah, a lion)")
    button = gr.Button("Classify", variant="primary", elem_id="classify-animal")
    label = gr.Label(num_top_classes=TOP_K, label="Animal", elem_id="animal-label")
    picker = model_picker("animals", ("rgb", "gray"), "photo-model")

    def classify(photo_file: dict | None, choice: str):
        """Gets the uploaded file unopened (preprocess=False): core.vision.inputs alone decodes it,
        with its format list and pixel limit, so a hostile file gets a plain-words refusal
        (Gradio's own decoding would fail first, with a message that names nothing)."""
        if photo_file is None:
            raise gr.Error("Upload a photo, take one with the webcam, or pick an example first.")
        return top_classes(choice, load_image, photo_file["path"])

    button.click(
        classify,
        [photo, picker],
        label,
        api_name="classify_animal",
        preprocess=False,
        concurrency_limit=None,
    )


def build() -> None:
    gr.Markdown(
        "Two ONNX models served by ONNX Runtime: a digit recogniser for your drawings and an "
        "animal-face classifier (cat / dog / wild) for photos. The cards say what each was "
        "trained on and how well it does. Models you train in the Training tab (image "
        "experiments) appear in each panel's model list, exported to ONNX at first use."
    )
    with gr.Row():
        with gr.Column():
            digits_panel()
        with gr.Column():
            animals_panel()
