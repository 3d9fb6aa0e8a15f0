"""Serving image classifiers: ONNX export, model cards, sessions, trained-run models,
inference techniques."""
