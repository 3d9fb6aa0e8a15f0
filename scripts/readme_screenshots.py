"""Copy the browser walk-through's screenshots into docs/screenshots/ for the README, shrunk.

    .venv/bin/pytest -m browser      # writes test-artifacts/screenshots/<tab>.png
    .venv/bin/python scripts/readme_screenshots.py

Only the screenshots the README shows are copied. Each PNG is scaled to at most WIDTH pixels
wide and reduced to a 256-colour palette (the UI's flat colours survive it), which keeps a
screenshot around 100 KB instead of several hundred.
"""

import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "test-artifacts" / "screenshots"
TARGET = REPO / "docs" / "screenshots"
WIDTH = 1280


def shrink(source: Path, target: Path, width: int = WIDTH) -> None:
    image = Image.open(source).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


def main() -> None:
    readme = (REPO / "README.md").read_text()
    shots = sorted(shot for shot in SOURCE.glob("*.png") if f"screenshots/{shot.name}" in readme)
    if not shots:
        sys.exit(f"no screenshots in {SOURCE}: run `.venv/bin/pytest -m browser` first")
    TARGET.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        target = TARGET / shot.name
        shrink(shot, target)
        print(f"{target.relative_to(REPO)}: {target.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
