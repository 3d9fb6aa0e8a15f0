"""Render two sets of digits drawn the way app users draw them (never training data).

Each PNG is a 280x280 grayscale canvas, black ink on white, like the app's sketchpad, named
`<digit>_<source>_<n>.png` (label first).

- `tests/drawn_digits/` (140, seed 2024): the development set. The shipped digits model's recipe
  was chosen with it in view (core/shipped/build.py), so it is no estimate of that model.
- `assets/drawn_digits/` (320, seed 2026): the held-out set, made after the model was shipped
  and scored once, for its card; nothing was chosen with it. 32 per digit, each drawn with a
  style picked at random: a thin (5-9 px), medium (12-20 px) or thick (24-34 px) brush; small,
  normal or large; anywhere on the canvas; slanted and turned further than the development set;
  and more ways to write a digit (open and closed 4s, crossed 7s, a 1 with a flag and a base,
  a flat-topped 3, a straight-stemmed 9, an 8 of two loops).

The development set has two sources:

- fonts: each digit in seven TrueType fonts, with a thickened outline so it reads like a marker
  stroke, at a random size, position and small tilt. /usr/share/fonts holds only the DejaVu
  family (22 files: Sans, Sans Condensed, Sans Mono, Serif, Serif Condensed, each plain, bold,
  oblique/italic and bold-oblique/italic, plus Sans ExtraLight and MathTeXGyre). Used: Sans, Sans
  Bold, Sans ExtraLight, Sans Condensed Oblique, Serif, Serif Italic, MathTeXGyre; Sans Mono is
  left out (its zero has a dot in it), the other variants look like those used;
- strokes: hand-designed pen paths per digit, drawn with a round brush stamped along the path
  (14-22 px wide, like a mouse brush), with random size, aspect, slant, rotation, position, a
  smooth elastic bend and a little hand tremor.

Tests check the preprocessing on the development set and the shipped model's accuracy on both.
Rerun to regenerate both (deterministic, replaces their PNGs):

    .venv/bin/python scripts/make_drawn_digits.py
"""

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
DEVELOPMENT = REPO / "tests" / "drawn_digits"
HELD_OUT = REPO / "assets" / "drawn_digits"
CANVAS = 280
SUPERSAMPLE = 4  # draw 4x larger, then shrink: anti-aliased edges like a browser canvas
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {  # source name -> (font file, outline width in px at 280x280)
    "dejavu-sans": ("DejaVuSans.ttf", 4),
    "dejavu-sans-bold": ("DejaVuSans-Bold.ttf", 1),
    "dejavu-sans-extralight": ("DejaVuSans-ExtraLight.ttf", 7),
    "dejavu-sans-condensed-oblique": ("DejaVuSansCondensed-Oblique.ttf", 4),
    "dejavu-serif": ("DejaVuSerif.ttf", 3),
    "dejavu-serif-italic": ("DejaVuSerif-Italic.ttf", 4),
    "dejavu-mathtexgyre": ("DejaVuMathTeXGyre.ttf", 4),
}
STROKE_SAMPLES = 7  # development set: stroke drawings per digit
HELD_OUT_SAMPLES = 32  # held-out set: drawings per digit


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> list:
    """Points on an ellipse from angle `start` to `end` in degrees (0 = right, 90 = down)."""
    angles = np.radians(np.linspace(start, end, max(8, int(abs(end - start) / 6))))
    return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles), strict=True))


def figure_eight() -> list:
    """An 8 drawn in one stroke: start at the top, cross in the middle, come back to the top."""
    t = np.linspace(0, 2 * np.pi + 0.25, 90)
    return list(zip(0.3 + 0.27 * np.sin(2 * t), 0.5 - 0.5 * np.cos(t), strict=True))


# Pen paths in a box 0.6 wide and 1 high (y down); each digit has one or more ways to draw it,
# each a list of strokes, each stroke a list of (x, y) points.
PATHS = {
    0: [[arc(0.3, 0.5, 0.29, 0.49, -95, 280)]],
    1: [[[(0.32, 0.0), (0.3, 1.0)]], [[(0.1, 0.22), (0.34, 0.0), (0.32, 1.0)]]],
    2: [[[*arc(0.3, 0.27, 0.27, 0.26, 195, 385), (0.02, 0.98), (0.62, 0.98)]]],
    3: [[arc(0.28, 0.25, 0.26, 0.24, 215, 450) + arc(0.28, 0.73, 0.3, 0.27, -90, 145)]],
    4: [
        [[(0.12, 0.0), (0.04, 0.62), (0.6, 0.62)], [(0.46, 0.08), (0.46, 1.0)]],
        [[(0.44, 0.0), (0.0, 0.66), (0.6, 0.66)], [(0.44, 0.0), (0.44, 1.0)]],
    ],
    5: [[[(0.56, 0.0), (0.1, 0.0), (0.06, 0.45), *arc(0.28, 0.68, 0.3, 0.3, 215, 480)]]],
    6: [[arc(0.55, 0.72, 0.5, 0.7, 250, 180) + arc(0.3, 0.74, 0.25, 0.24, 180, -175)]],
    7: [[[(0.0, 0.02), (0.6, 0.02), (0.2, 1.0)]], [[(0.0, 0.02), (0.6, 0.02), (0.3, 1.0)]]],
    8: [[figure_eight()]],
    9: [[[*arc(0.3, 0.25, 0.27, 0.24, 10, -355), (0.55, 0.6), (0.5, 1.0)]]],
}
# More ways people write digits, for the held-out set only (the development set keeps PATHS).
MORE_PATHS = {
    1: [[[(0.1, 0.2), (0.34, 0.0), (0.32, 1.0)], [(0.08, 1.0), (0.56, 1.0)]]],  # flag and base
    3: [[[(0.04, 0.02), (0.56, 0.02), (0.24, 0.4), *arc(0.28, 0.7, 0.3, 0.29, -80, 150)]]],
    4: [[[(0.3, 0.0), (0.0, 0.66), (0.6, 0.66)], [(0.42, 0.3), (0.42, 1.0)]]],  # open, low stem
    6: [[[(0.5, 0.0), (0.12, 0.5), *arc(0.3, 0.74, 0.25, 0.24, 190, -170)]]],  # straight stem
    7: [  # crossed 7s
        [[(0.0, 0.02), (0.6, 0.02), (0.2, 1.0)], [(0.14, 0.5), (0.54, 0.5)]],
        [[(0.0, 0.1), (0.6, 0.02), (0.28, 1.0)], [(0.2, 0.52), (0.58, 0.48)]],
    ],
    8: [[arc(0.3, 0.25, 0.22, 0.24, 90, 450), arc(0.3, 0.74, 0.28, 0.26, -90, 270)]],  # two loops
    9: [[[*arc(0.3, 0.26, 0.27, 0.25, 0, -360), (0.57, 1.0)]]],  # straight stem
}
HELD_OUT_PATHS = {digit: ways + MORE_PATHS.get(digit, []) for digit, ways in PATHS.items()}


def densify(points: list, step: float = 0.01) -> np.ndarray:
    """The polyline with extra points every `step`, so a wobble bends lines, not just corners."""
    points = np.asarray(points, dtype=float)
    out = [points[0]]
    for a, b in itertools.pairwise(points):
        n = max(1, int(np.linalg.norm(b - a) / step))
        out.extend(a + (b - a) * k / n for k in range(1, n + 1))
    return np.asarray(out)


@dataclass(frozen=True)
class Hand:
    """How one drawing is drawn: its pen paths, its height, slant and turn, and its brush."""

    paths: dict
    height: tuple[float, float] = (130, 215)  # px
    slant: float = 0.3  # at most, either way
    degrees: float = 8  # turned at most this far, either way
    brush: tuple[float, float] = (7, 11)  # radius, px: a 14-22 px round brush


BRUSHES = {"thin": (2.5, 4.5), "medium": (6, 10), "thick": (12, 17)}  # radius, px
HEIGHTS = {"small": (55, 100), "normal": (110, 180), "large": (185, 240)}  # px


def held_out_hand(rng: np.random.Generator) -> Hand:
    """A style picked at random: any brush, any size, slanted and turned further."""
    brush = BRUSHES[rng.choice(list(BRUSHES))]
    height = HEIGHTS[rng.choice(list(HEIGHTS))]
    return Hand(HELD_OUT_PATHS, height=height, slant=0.45, degrees=15, brush=brush)


def stroke_drawing(digit: int, rng: np.random.Generator, hand: Hand = Hand(PATHS)) -> Image.Image:
    """One digit drawn with a round brush along a randomly transformed pen path."""
    strokes = [densify(s) for s in hand.paths[digit][rng.integers(len(hand.paths[digit]))]]
    height = rng.uniform(*hand.height)
    x_scale = height * rng.uniform(0.85, 1.25)  # the 0.6-wide pen box: 0.5-0.75 of the height
    slant = rng.uniform(-hand.slant, hand.slant)
    angle = np.radians(rng.uniform(-hand.degrees, hand.degrees))
    phases, freqs = rng.uniform(0, 2 * np.pi, 2), rng.uniform(0.5, 1.2, 2)
    transformed = []
    for points in strokes:
        x, y = points[:, 0] - 0.3, points[:, 1] - 0.5
        # a smooth elastic bend of the whole digit, ~3 % of its size
        x = x + 0.03 * np.sin(freqs[0] * y * 2 * np.pi + phases[0])
        y = y + 0.03 * np.sin(freqs[1] * x * 2 * np.pi + phases[1])
        x, y = x * x_scale - slant * y * height, y * height
        x, y = x * np.cos(angle) - y * np.sin(angle), x * np.sin(angle) + y * np.cos(angle)
        tremor = rng.normal(0, 0.25, (len(x), 2)).cumsum(axis=0)
        tremor -= np.linspace(tremor[0], tremor[-1], len(x))  # keep the stroke's end points
        transformed.append(np.column_stack([x, y]) + tremor)
    drawn = np.concatenate(transformed)
    low, high = drawn.min(axis=0), drawn.max(axis=0)
    margin = 12
    offset = [
        rng.uniform(margin - low[i], max(margin - low[i], CANVAS - margin - high[i]))
        for i in range(2)
    ]
    # no brush wider than a fifth of the digit's height: people draw small digits thinner,
    # and a wider one leaves a blot nobody could read
    radius = min(rng.uniform(*hand.brush), height / 10) * SUPERSAMPLE
    canvas = Image.new("L", (CANVAS * SUPERSAMPLE,) * 2, 255)
    draw = ImageDraw.Draw(canvas)
    for x, y in (drawn + offset) * SUPERSAMPLE:
        # stamp the brush at every point (a few px apart), as a canvas brush does: round caps
        # and joins, no seams
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    return canvas.resize((CANVAS, CANVAS), Image.Resampling.LANCZOS)


def font_drawing(digit: int, font_file: str, outline: int, rng: np.random.Generator) -> Image.Image:
    """One digit typed in a font, thickened, at a random size, place and tilt."""
    scale = SUPERSAMPLE
    glyph_height = rng.uniform(130, 210) * scale
    reference = ImageFont.truetype(FONT_DIR / font_file, 100)
    box = reference.getbbox(str(digit))
    font = ImageFont.truetype(FONT_DIR / font_file, round(100 * glyph_height / (box[3] - box[1])))
    side = CANVAS * scale
    canvas = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(canvas)
    stroke = outline * scale
    left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=font, stroke_width=stroke)
    margin = 12 * scale
    x = rng.uniform(margin - left, max(margin - left, side - margin - right))
    y = rng.uniform(margin - top, max(margin - top, side - margin - bottom))
    draw.text((x, y), str(digit), font=font, fill=0, stroke_width=stroke, stroke_fill=0)
    centre = (x + (left + right) / 2, y + (top + bottom) / 2)
    tilted = canvas.rotate(
        rng.uniform(-10, 10), Image.Resampling.BICUBIC, center=centre, fillcolor=255
    )
    return tilted.resize((CANVAS, CANVAS), Image.Resampling.LANCZOS)


def development_set() -> dict[str, Image.Image]:
    """Seven fonts and seven stroke drawings per digit."""
    rng = np.random.default_rng(2024)
    drawings = {}
    for digit in range(10):
        for source, (font_file, outline) in FONTS.items():
            drawings[f"{digit}_{source}_0.png"] = font_drawing(digit, font_file, outline, rng)
        for n in range(STROKE_SAMPLES):
            drawings[f"{digit}_strokes_{n}.png"] = stroke_drawing(digit, rng)
    return drawings


def held_out_set() -> dict[str, Image.Image]:
    """`HELD_OUT_SAMPLES` stroke drawings per digit, each in a style of its own."""
    rng = np.random.default_rng(2026)
    return {
        f"{digit}_hand_{n:02d}.png": stroke_drawing(digit, rng, held_out_hand(rng))
        for digit in range(10)
        for n in range(HELD_OUT_SAMPLES)
    }


def write(drawings: dict[str, Image.Image], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    for name, image in drawings.items():
        # 16 grey levels are plenty for anti-aliased edges and keep the PNGs small
        image.point(lambda v: round(v / 17) * 17).save(folder / name, optimize=True)
    print(f"wrote {len(drawings)} drawn digits to {folder}")


def main() -> None:
    write(development_set(), DEVELOPMENT)
    write(held_out_set(), HELD_OUT)


if __name__ == "__main__":
    main()
