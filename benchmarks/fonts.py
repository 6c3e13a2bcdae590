"""Pages written in handwriting fonts: words and numbers side by side, as in a note or a list.

Evaluation only. The trainer never draws from a handwriting font (its cursive words come from its own
pen model, ``trainer.synth.documents.script_word``), so these pages test both models and the
pipeline on hands they have never seen: printed-style handwriting whose l, e, s and b look like
1, 2, 5 and 6, and joined-up scripts. The fonts come from Debian packages (``make bench`` installs
them where it can); pages for fonts that are missing are left out, and the report says which.

    python -m benchmarks.fonts --pages 2       # our reader on two pages of each installed font
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edge.pipeline.results import Box
from trainer.synth.pages import Page

# Debian package -> font file. femkeklaver (an outline font: hollow strokes no pen draws) is left out.
HANDWRITING_FONTS = {
    "fonts-dkg-handwriting": "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
    "fonts-breip": "/usr/share/fonts/truetype/breip/Breip.ttf",
    "fonts-ecolier-court": "/usr/share/fonts/truetype/ecolier-court/Ecolier-court.ttf",
    "fonts-dancingscript": "/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf",
    "fonts-kristi": "/usr/share/fonts/truetype/kristi/Kristi.ttf",
}
# Words of a shopping list, a delivery note or an address (English, capitalised or not).
WORDS = ("apples chairs Street amount delivered Monday total invoice hello garden Kelly Robert Lane please "
         "tomorrow bill label order paper lamps folders boxes tape cable yellow brick Smith Baker window house "
         "number phone kilograms bottles hammer nails glue blue pens market Oak Road Hill flat room bus").split()
PAGE_SIZE = (1000, 1400)  # height, width in pixels: a phone scan of a page at about 120 dpi
TEXT_HEIGHT = (44, 70)  # font size in pixels: handwriting 8-13 mm tall at that resolution
LINE_SPACING = 2.0  # baseline to baseline, in font sizes
NUMBER_SHARE = 0.6  # chance that a word is followed by a number
DIGIT_GAP = 0.12  # between the digits of a number, in font sizes: written apart, as on a form
# A hand does not keep to a baseline or a size as type does: each word and each digit sits up to
# this share of the font size above or below the line, and each digit is drawn this much larger or smaller.
BASELINE_WANDER = 0.08
DIGIT_SIZE_WANDER = 0.08
PAPER, INK = 245, 30


def installed_fonts() -> dict[str, Path]:
    """The handwriting fonts present on this machine, by Debian package."""
    return {package: Path(path) for package, path in HANDWRITING_FONTS.items() if Path(path).is_file()}


def font_page(font: Path, seed: int) -> Page:
    """One page of lines of words and numbers in ``font``; the truth is every digit's ink box."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", PAGE_SIZE[::-1], PAPER)
    draw = ImageDraw.Draw(image)
    digits: list[tuple[int, Box]] = []
    numbers: list[list[int]] = []
    lines: list[list[str]] = []
    y = 40
    while True:
        size = int(rng.integers(*TEXT_HEIGHT))
        if y + 2 * size > PAGE_SIZE[0]:
            break
        face = ImageFont.truetype(str(font), size)
        x, line = 40, []
        for _ in range(2):
            words = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 3))))
            wy = y + int(round(rng.uniform(-BASELINE_WANDER, BASELINE_WANDER) * size))
            draw.text((x, wy), words, font=face, fill=INK)
            x = draw.textbbox((x, wy), words, font=face)[2] + int(0.8 * size)
            if rng.random() >= NUMBER_SHARE:
                continue
            text = "".join(str(v) for v in rng.integers(0, 10, size=int(rng.integers(1, 5))))
            indices = []
            for char in text:
                scale = rng.uniform(1 - DIGIT_SIZE_WANDER, 1 + DIGIT_SIZE_WANDER)
                glyph = ImageFont.truetype(str(font), int(round(size * scale)))
                dy = y + int(round(rng.uniform(-BASELINE_WANDER, BASELINE_WANDER) * size))
                draw.text((x, dy), char, font=glyph, fill=INK)
                left, top, right, bottom = draw.textbbox((x, dy), char, font=glyph)
                ink = _ink_box(np.asarray(image), left, top, right, bottom)
                indices.append(len(digits))
                digits.append((int(char), ink))
                x = right + int(DIGIT_GAP * size)
            numbers.append(indices)
            line.append(text)
            x += int(0.8 * size)
        lines.append(line)
        y += int(LINE_SPACING * size)
    bgr = np.repeat(np.asarray(image)[..., None], 3, axis=2)
    return Page(kind=f"font:{font.stem}", image=bgr, lines=[line for line in lines if line], digits=digits,
                numbers=numbers)


def _ink_box(gray: np.ndarray, left: int, top: int, right: int, bottom: int) -> Box:
    """The box of the ink inside a glyph's layout box (fonts pad their glyph boxes)."""
    region = gray[top:bottom, left:right] < (PAPER + INK) // 2
    ys, xs = np.nonzero(region)
    if not len(xs):
        return Box(left, top, max(1, right - left), max(1, bottom - top))
    return Box(left + int(xs.min()), top + int(ys.min()), int(xs.max() - xs.min()) + 1, int(ys.max() - ys.min()) + 1)


def main(argv: list[str] | None = None) -> int:
    from .accuracy import BENCHMARK_FIRST_SEED, evaluate_pages, table
    from .common import recognizer
    from .readers import OurReader

    parser = argparse.ArgumentParser(description="Score our reader on pages written in handwriting fonts.")
    parser.add_argument("--pages", type=int, default=3, help="pages per font (default 3)")
    args = parser.parse_args(argv)
    fonts = installed_fonts()
    if not fonts:
        print("no handwriting font installed: apt-get install " + " ".join(HANDWRITING_FONTS), file=sys.stderr)
        return 1
    results = evaluate_pages(OurReader(recognizer()), None, font_kinds(fonts), args.pages, BENCHMARK_FIRST_SEED,
                             make=make_font_page)
    print(table(results, "edge-digits"))
    return 0


def font_kinds(fonts: dict[str, Path]) -> tuple[str, ...]:
    """The benchmark's kinds for these fonts: "font:" and the font file's stem."""
    return tuple(f"font:{path.stem}" for path in fonts.values())


def make_font_page(kind: str, _bank, seed: int) -> Page:
    """``evaluate_pages``' page maker for the kinds of ``font_kinds``."""
    stem = kind.split(":", 1)[1]
    for path in installed_fonts().values():
        if path.stem == stem:
            return font_page(path, seed)
    raise ValueError(f"no installed handwriting font for page kind {kind!r}")


if __name__ == "__main__":
    sys.exit(main())
