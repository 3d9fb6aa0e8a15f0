"""The shipped models in `models/`: how each one is trained, chosen and exported."""
