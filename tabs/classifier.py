"""Classifier tab: draw a digit or show an animal photo; the shipped ONNX models answer."""

import gradio as gr

from core.images import ImageInputError, drawing_to_image, load_image
from core.paths import REPO_ROOT
from core.serving import MODELS_DIR, ModelCard, list_models, load_model
from tabs.pending import pending

TITLE = "Classifier"
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


def card_markdown(model_name: str) -> str:
    """The model card as a few lines: what it knows, what it was trained on, how well it does.

    Read from the JSON alone: the ONNX session is only created at the first prediction.
    """
    card = ModelCard.load(MODELS_DIR / f"{model_name}.json")
    metrics = ", ".join(f"{name} {value:.4g}" for name, value in card.metrics.items())
    return (
        f"**Model `{card.name}`** · classes: {', '.join(card.classes)} · "
        f"input: {card.input.kind} {card.input.size}x{card.input.size}\n\n"
        f"**Data:** {card.data}\n\n**Metrics:** {metrics or 'none recorded'}\n\n"
        f"**Training:** {card.training}\n\n{card.notes}"
    )


def top_classes(model_name: str, to_image, value) -> dict[str, float]:
    """The model's top classes for a user's input, or a UI error that says what is wrong."""
    try:
        return dict(load_model(model_name).top_k(to_image(value), k=TOP_K))
    except ImageInputError as error:
        raise gr.Error(str(error)) from None


def shipped(model_name: str, heading: str) -> bool:
    """Show the panel's heading; say so and return False when the model is not shipped."""
    gr.Markdown(f"### {heading}")
    if model_name in list_models():
        return True
    pending(f"The {model_name} model is not in models/ yet: `make models` builds it.")
    return False


def card_accordion(model_name: str) -> None:
    with gr.Accordion("Model card", open=False):
        gr.Markdown(card_markdown(model_name))


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
    card_accordion("digits")
    button.click(
        lambda drawing: top_classes("digits", drawing_to_image, drawing),
        sketch,
        label,
        api_name="recognise_digit",
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
    gr.Examples(EXAMPLES, inputs=photo, label="Examples (a cat, a cheetah, a lion)")
    button = gr.Button("Classify", variant="primary", elem_id="classify-animal")
    label = gr.Label(num_top_classes=TOP_K, label="Animal", elem_id="animal-label")
    card_accordion("animals")

    def classify(path):
        if path is None:
            raise gr.Error("Upload a photo, take one with the webcam, or pick an example first.")
        return top_classes("animals", load_image, path)

    button.click(classify, photo, label, api_name="classify_animal")


def build() -> None:
    gr.Markdown(
        "Two ONNX models served by ONNX Runtime: a digit recogniser for your drawings and an "
        "animal-face classifier (cat / dog / wild) for photos. The cards say what each was "
        "trained on and how well it does."
    )
    with gr.Row():
        with gr.Column():
            digits_panel()
        with gr.Column():
            animals_panel()
