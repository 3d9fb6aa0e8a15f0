"""`dlstudio classify`: classify image files with a shipped or trained model.

    dlstudio classify IMAGE [IMAGE ...] --model NAME [--top-k K] [--json]

NAME is a shipped model (`digits`, `animals`), an .onnx file with its card beside it, or
`run:ID`, the model a run of the run store trained (exported to ONNX at first use).

Images are read and prepared exactly as the app's Classifier tab does (`load_image`, then the
model card's `InputSpec`). `--json` prints one object:
{"model": NAME, "results": [{"image": PATH, "top_k": [{"class": C, "probability": P}, ...]}]};
an unreadable image gets {"image": PATH, "error": MESSAGE} instead, and the exit code is 1.

The image files and an .onnx model file are paths a user names, confined as everywhere
(`core.paths.confine`: the shipped `assets/`, uploads, and `dlstudio --allow-path DIR`
folders); a refusal ends the command before anything is read.
"""

import argparse
import json

from core.paths import confine
from core.serving.onnx import ModelFileError, OnnxClassifier
from core.serving.run_models import load_any_model
from core.vision.inputs import ImageInputError, load_image


def classify_files(classifier: OnnxClassifier, paths: list[str], k: int) -> list[dict]:
    """One result per path: its top-k classes, or the reason it could not be read."""
    results = []
    for path in paths:
        try:
            top = classifier.top_k(load_image(path), k=k)
        except ImageInputError as error:
            results.append({"image": path, "error": str(error)})
            continue
        ranked = [{"class": name, "probability": prob} for name, prob in top]
        results.append({"image": path, "top_k": ranked})
    return results


def confine_inputs(model: str, images: list[str]) -> None:
    """Raise `core.paths.PathRefused` unless every image, and the model when it is an .onnx
    file rather than a name, lies where the app may read."""
    if model.endswith(".onnx"):
        confine(model, "model file")
    for image in images:
        confine(image, "image")


def format_table(results: list[dict]) -> str:
    lines = []
    for result in results:
        lines.append(result["image"])
        if "error" in result:
            lines.append(f"  error: {result['error']}")
        for entry in result.get("top_k", []):
            lines.append(f"  {entry['class']:<16} {entry['probability']:7.2%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio classify", description="Classify images with a shipped or trained model."
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--model", required=True, help="shipped model name, .onnx path or run:ID")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.top_k < 1:
        parser.error("--top-k must be at least 1")
    confine_inputs(args.model, args.images)
    try:
        classifier = load_any_model(args.model)
    except (KeyError, ValueError, FileNotFoundError, ModelFileError) as error:
        parser.error(error.args[0])  # the message alone (str() of a KeyError adds quotes)
    results = classify_files(classifier, args.images, args.top_k)
    if args.json:
        print(json.dumps({"model": classifier.card.name, "results": results}, indent=2))
    else:
        print(format_table(results))
    return 1 if any("error" in result for result in results) else 0
