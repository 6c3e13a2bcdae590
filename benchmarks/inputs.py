"""Input costs: PDF pages per second (render + read), and the cost of aligning a form page.

    python -m benchmarks.inputs [--pages 10] [--data MNIST_DIR] [--json out.json]

A 10-page PDF of A4 scans (300 dpi images, 40 handwritten MNIST test digits per page, 7 mm tall,
JPEG inside the PDF as Pillow writes it) is rendered by PDFium at the default dpi and read by the
shipped model. Alignment is timed on a printed form at A4 300 dpi and at phone-photo size (12 MP),
turned by 2 degrees. All times are CPU time of this process (``time.process_time``, all threads).
"""

from __future__ import annotations

import argparse
import io
import json
import time

import cv2
import numpy as np
from PIL import Image

from benchmarks.common import load_test_digits, machine


def _pdf(pages: list[np.ndarray], dpi: float) -> bytes:
    buffer = io.BytesIO()
    first, *rest = [Image.fromarray(p) for p in pages]
    first.save(buffer, "PDF", save_all=True, append_images=rest, resolution=dpi)
    return buffer.getvalue()


def _cpu(function, repeat: int = 1) -> tuple[float, object]:
    start = time.process_time()
    for _ in range(repeat):
        result = function()
    return (time.process_time() - start) / repeat, result


def pdf_figures(recognizer, bank, pages: int, seed: int) -> dict:
    from edge.sources.pdf import DEFAULT_DPI, render_pages
    from trainer.synth.pages import a4_page

    rng = np.random.default_rng(seed)
    scans, truth = [], []
    for _ in range(pages):
        page, numbers = a4_page(bank, rng)
        scans.append(cv2.cvtColor(page, cv2.COLOR_BGR2GRAY))
        truth.append(numbers)
    data = _pdf(scans, 300)
    figures: dict = {"pages": pages, "pdf_bytes": len(data)}
    for dpi in (DEFAULT_DPI, 300.0):
        render_s, rendered = _cpu(lambda: [p.pixels for p in render_pages(data, dpi=dpi)])
        found = 0
        start = time.process_time()
        for pixels, numbers in zip(rendered, truth):
            read = set(recognizer.read(pixels).numbers)
            found += sum(n in read for n in numbers)
        read_s = time.process_time() - start
        figures[f"{dpi:g} dpi"] = {
            "page_size": list(rendered[0].shape[:2]),
            "render_ms_per_page": round(1000 * render_s / pages, 1),
            "read_ms_per_page": round(1000 * read_s / pages, 1),
            "pages_per_s": round(pages / (render_s + read_s), 2),
            "numbers_found": f"{found}/{sum(len(t) for t in truth)}",
        }
    return figures


def _form(scale: float) -> np.ndarray:
    """A printed form (labels, boxes, small print) drawn at ``scale`` times 150 dpi A4."""
    width, height = round(1240 * scale), round(1754 * scale)
    form = np.full((height, width, 3), 248, np.uint8)
    font, ink = cv2.FONT_HERSHEY_SIMPLEX, (30, 30, 30)
    s = lambda v: round(v * scale)  # noqa: E731
    cv2.putText(form, "ORDER FORM  No. 7B", (s(80), s(110)), font, 1.6 * scale, ink, max(1, s(3)), cv2.LINE_AA)
    for row in range(6):
        y = s(240 + 120 * row)
        cv2.putText(form, f"Field {row + 1}", (s(80), y + s(55)), font, scale, ink, max(1, s(2)), cv2.LINE_AA)
        cv2.rectangle(form, (s(420), y), (s(900), y + s(90)), ink, max(1, s(2)))
    for k in range(8):
        cv2.putText(form, f"Section {k + 1}: conditions apply, see overleaf {k * 37 % 91}", (s(80), s(1000 + 70 * k)),
                    font, 0.9 * scale, ink, max(1, s(2)), cv2.LINE_AA)
    return form


def _turned(image: np.ndarray, degrees: float = 2.0, shift: float = 25.0) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    matrix[:, 2] += shift
    return cv2.warpAffine(image, matrix, (width, height), borderValue=(248, 248, 248))


def alignment_figures(repeat: int) -> dict:
    from edge.pipeline.align import align, prepare_reference, warp_to_reference

    reference_image = _form(1.0)
    prepare_s, reference = _cpu(lambda: prepare_reference(reference_image), repeat)
    figures: dict = {"reference": "A4 at 150 dpi (1240x1754)", "prepare_reference_ms": round(1000 * prepare_s, 1)}
    phone = cv2.resize(_turned(_form(2.0)), (3024, 4032), interpolation=cv2.INTER_CUBIC)  # 12 MP, 4:3
    for name, page in (("A4 at 300 dpi (2480x3508)", _turned(_form(2.0))), ("phone photo (3024x4032)", phone)):
        align_s, alignment = _cpu(lambda: align(page, reference), repeat)
        warp_s, _ = _cpu(lambda: warp_to_reference(page, alignment, reference), repeat)
        figures[name] = {"ok": alignment.ok, "inliers": alignment.inliers,
                         "align_ms": round(1000 * align_s, 1), "full_warp_ms": round(1000 * warp_s, 1)}
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5, help="alignment timings: mean of this many runs")
    parser.add_argument("--data", help="MNIST folder (default: $MNIST_DATA or ../shared/mnist)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    from edge.pipeline.recognizer import Recognizer
    from edge.runtime.classifier import DigitClassifier
    from edge.runtime.resources import default_model_path
    from trainer.synth.pages import DigitBank

    x_test, y_test = load_test_digits(args.data)
    recognizer = Recognizer(DigitClassifier(default_model_path()))
    figures = {
        "machine": machine(),
        "pdf": pdf_figures(recognizer, DigitBank(x_test, y_test), args.pages, seed=2024),
        "alignment": alignment_figures(args.repeat),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
