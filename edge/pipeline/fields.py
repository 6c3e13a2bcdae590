"""Read the named fields of a form: each field's region, aligned to a blank reference, read on its own.

A field spec is a small JSON file written once per form::

    {"reference": "blank-form.png",
     "fields": {"amount": [620, 220, 530, 70],
                "account": {"box": [620, 340, 530, 70], "cells": 8}}}

Boxes are ``[x, y, width, height]`` in the reference image's pixels (any image viewer shows them);
the reference path is relative to the JSON file. ``{"box": ..., "comb": true}`` marks a comb field
(a row of boxes, one digit each); ``"cells": N`` says how many boxes, and implies ``comb``.

Reading a field: its region, grown by a margin so that digits written across its border are whole,
is resampled upright from the page through the alignment; the form's own printing (box lines,
labels), known exactly from the aligned reference, is erased ("dropout"); the recogniser reads what
is left; digits whose centre lies inside the field (not the margin) are the field's.

Value of a field:
- a plain field: its numbers in reading order, separated by one space ("12 7"), lines joined by a
  space as well, so a value is always one line; empty when nothing is written;
- a comb field: all its digits as one number ("40213"), at most one digit per cell when ``cells``
  is given (the surest one: a leftover of a box line is read as a weak 1).
Confidence is the weakest digit's (None for an empty field): one doubtful digit makes the value so.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.pipeline.align import (AlignOptions, Alignment, Reference, align, local_zoom, paper_value,
                                 prepare_reference, region_on_page, warp_region)
from edge.pipeline.results import Box, Digit

MAX_CELLS = 200  # a comb longer than this is a typo, not a form


class FieldSpecError(ValueError):
    """The field spec cannot be used; the message says why, in one line."""


@dataclass(frozen=True)
class FieldBox:
    name: str
    box: Box  # reference pixels
    comb: bool = False
    cells: int | None = None


@dataclass(frozen=True)
class FieldSpec:
    reference: Path  # absolute, or relative to the working folder when the spec came without a path
    fields: tuple[FieldBox, ...]
    dpi: float | None = None  # rendering resolution when the reference is a PDF

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


# --- parsing (pure) ------------------------------------------------------------------------------

_TOP_KEYS = {"reference", "fields", "dpi", "comment"}
_FIELD_KEYS = {"box", "comb", "cells", "comment"}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_box(name: str, value: Any) -> Box:
    if not (isinstance(value, list) and len(value) == 4 and all(_number(v) for v in value)):
        raise FieldSpecError(f'field "{name}": the box must be [x, y, width, height] in pixels, '
                             f"not {json.dumps(value)[:60]}")
    x, y, w, h = (float(v) for v in value)
    if x < 0 or y < 0:
        raise FieldSpecError(f'field "{name}": the box starts outside the image (x {x:g}, y {y:g})')
    if w < 1 or h < 1:
        raise FieldSpecError(f'field "{name}": the box is empty ({w:g}x{h:g} pixels)')
    x0, y0 = math.floor(x), math.floor(y)
    return Box(x0, y0, math.ceil(x + w) - x0, math.ceil(y + h) - y0)


# Names of the CSV table's own columns: a field of that name (or its "NAME confidence" column) would
# give the table two columns of one name, and a reader going by names would lose one.
RESERVED_NAMES = ("source", "page", "error")


def _parse_field(name: str, value: Any) -> FieldBox:
    if not name.strip():
        raise FieldSpecError("a field has an empty name")
    if name in RESERVED_NAMES:
        raise FieldSpecError(f'field "{name}": the name is taken by a column of the results ({", ".join(RESERVED_NAMES)})')
    if isinstance(value, list):
        return FieldBox(name, _parse_box(name, value))
    if not isinstance(value, dict):
        raise FieldSpecError(f'field "{name}": expected a box [x, y, width, height] or an object with "box"')
    unknown = sorted(set(value) - _FIELD_KEYS)
    if unknown:
        raise FieldSpecError(f'field "{name}": unknown key "{unknown[0]}" (known: box, comb, cells)')
    if "box" not in value:
        raise FieldSpecError(f'field "{name}": "box" is missing')
    comb = value.get("comb", False)
    if not isinstance(comb, bool):
        raise FieldSpecError(f'field "{name}": "comb" must be true or false')
    cells = value.get("cells")
    if cells is not None and (not isinstance(cells, int) or isinstance(cells, bool) or not 1 <= cells <= MAX_CELLS):
        raise FieldSpecError(f'field "{name}": "cells" must be a whole number from 1 to {MAX_CELLS}')
    return FieldBox(name, _parse_box(name, value["box"]), comb=comb or cells is not None, cells=cells)


def parse_field_spec(data: Any, base: Path | None = None) -> FieldSpec:
    """A FieldSpec from decoded JSON; ``base`` is the folder the reference path is relative to."""
    if not isinstance(data, dict):
        raise FieldSpecError('a field spec is a JSON object with "reference" and "fields"')
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise FieldSpecError(f'unknown key "{unknown[0]}" (known: reference, fields, dpi)')
    reference = data.get("reference")
    if not isinstance(reference, str) or not reference.strip():
        raise FieldSpecError('"reference" must name the blank form\'s image file')
    dpi = data.get("dpi")
    if dpi is not None and not (_number(dpi) and 10 <= dpi <= 1200):
        raise FieldSpecError('"dpi" must be a number from 10 to 1200')
    fields = data.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise FieldSpecError('"fields" must be an object of field names and boxes, with at least one field')
    parsed = tuple(_parse_field(name, value) for name, value in fields.items())
    clash = next((name for name in fields if f"{name} confidence" in fields), None)
    if clash is not None:
        raise FieldSpecError(f'fields "{clash}" and "{clash} confidence": the second is the name of the first\'s '
                             "confidence column in the results")
    path = Path(reference)
    if base is not None and not path.is_absolute():
        path = base / path
    return FieldSpec(reference=path, fields=parsed, dpi=float(dpi) if dpi is not None else None)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise FieldSpecError(f'"{key}" is given twice')
        seen[key] = value
    return seen


def parse_field_json(text: str, base: Path | None = None) -> FieldSpec:
    """A FieldSpec from JSON text (a repeated key is an error: JSON would keep only the last)."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise FieldSpecError(f"not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
    except FieldSpecError:  # a key given twice
        raise
    except RecursionError:
        raise FieldSpecError("not a field spec: JSON nested too deeply") from None
    except ValueError:  # a number of thousands of digits
        raise FieldSpecError("not valid JSON (a number too long to read)") from None
    return parse_field_spec(data, base)


# --- files -----------------------------------------------------------------------------------------


def load_field_spec(path: str | os.PathLike) -> FieldSpec:
    """Read a field spec file; FieldSpecError with one line when it cannot be read or used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FieldSpecError("file not found") from None
    except IsADirectoryError:
        raise FieldSpecError("is a folder, not a JSON file") from None
    except UnicodeDecodeError:
        raise FieldSpecError("not a text file (expected JSON)") from None
    except OSError as exc:
        raise FieldSpecError(f"cannot read ({exc.strerror or exc})") from None
    return parse_field_json(text, path.parent)


@dataclass(frozen=True)
class Form:
    """A field spec with its reference image loaded and its features found: built once per run."""

    spec: FieldSpec
    reference: np.ndarray  # grey or BGR uint8
    features: Reference


def check_fields_inside(spec: FieldSpec, width: int, height: int) -> None:
    """Every field box must lie on the reference image."""
    for item in spec.fields:
        if item.box.x2 > width or item.box.y2 > height:
            raise FieldSpecError(f'field "{item.name}" {item.box.as_list()} reaches outside the reference image '
                                 f"({width}x{height})")


def load_form(path: str | os.PathLike, max_pixels: int | None = None, options: AlignOptions = AlignOptions()) -> Form:
    """The spec at ``path``, its reference image (first page, when a PDF) and the reference's features."""
    from edge.sources.images import DEFAULT_MAX_PIXELS, ImageError, LoadedImage, PageOptions, read_pages

    spec = load_field_spec(path)
    try:
        first = next(iter(read_pages(spec.reference, PageOptions(
            max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels, pdf_dpi=spec.dpi))), None)
    except ImageError as exc:
        raise FieldSpecError(f"reference image {spec.reference.name}: {exc}") from None
    if not isinstance(first, LoadedImage):
        reason = first.message if first is not None else "no pages"
        raise FieldSpecError(f"reference image {spec.reference.name}: {reason}")
    check_fields_inside(spec, first.width, first.height)
    return Form(spec=spec, reference=first.pixels, features=prepare_reference(first.pixels, options))


# --- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldOptions:
    align: AlignOptions = field(default_factory=AlignOptions)
    # Grown on every side by this share of the field's height (at least ``min_margin_px``): digits
    # overshoot a box by up to half their height, and a box is about a digit high. (On test forms, a
    # third of the height lost digits standing a third out of their box; half kept 53 of 54.)
    margin: float = 0.5
    min_margin_px: int = 4
    # Erase the form's own printing (known from the aligned reference) before reading.
    dropout: bool = True
    # Reference ink: darker than the reference's paper by this much (0-255; as segmentation's contrast).
    dropout_contrast: int = 50
    # Printing is erased this far around, in reference pixels: the alignment's error (about 2 px at
    # 150 dpi) plus the anti-aliased edge of a printed line.
    dropout_grow_px: int = 3
    # Fill the erased printing from its surroundings (OpenCV's inpainting), so that a digit written
    # across a box line keeps its stroke instead of being cut in two by a paper-coloured band
    # (about 6 ms a field on this machine's CPU).
    dropout_inpaint: bool = True
    # A field is read at up to this many times its reference size, to keep a finer page's detail.
    max_zoom: float = 4.0


@dataclass(frozen=True)
class FieldValue:
    name: str
    value: str  # "" when nothing is written
    confidence: float | None  # the weakest digit's; None when empty
    box: Box  # the field's bounding box in the input page's pixels
    corners: tuple[tuple[float, float], ...]  # its four corners on the page (turned with the page)
    digits: tuple[Digit, ...] = ()  # its digits, boxes in the input page's pixels


@dataclass
class FormReading:
    fields: dict[str, FieldValue]
    alignment: Alignment
    notes: list[str] = field(default_factory=list)

    def values(self) -> dict[str, str]:
        return {name: f.value for name, f in self.fields.items()}

    def confidences(self) -> dict[str, float | None]:
        return {name: (round(f.confidence, 4) if f.confidence is not None else None) for name, f in self.fields.items()}


def _grown(box: Box, options: FieldOptions) -> tuple[Box, int]:
    margin = max(options.min_margin_px, round(options.margin * box.h))
    return Box(box.x - margin, box.y - margin, box.w + 2 * margin, box.h + 2 * margin), margin


def _reference_crop(reference: np.ndarray, region: Box, zoom: float) -> np.ndarray:
    identity = Alignment(np.eye(3), ok=True)
    return warp_region(reference, identity, region, zoom, fill=paper_value(reference))


def _dropout(crop: np.ndarray, printed: np.ndarray, zoom: float, options: FieldOptions) -> np.ndarray:
    """``crop`` with the reference's ink (``printed``, the same region) painted over in paper colour."""
    grey = printed if printed.ndim == 2 else cv2.cvtColor(printed, cv2.COLOR_BGR2GRAY)
    mask = (grey.astype(np.int16) < paper_value(grey) - options.dropout_contrast).astype(np.uint8)
    if not mask.any():
        return crop
    radius = max(1, round(options.dropout_grow_px * zoom))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    if options.dropout_inpaint:
        return cv2.inpaint(crop, mask, 3, cv2.INPAINT_TELEA)
    out = crop.copy()
    out[mask.astype(bool)] = paper_value(crop)
    return out


def _choose_digits(digits: list[Digit], item: FieldBox, inner: Box) -> list[Digit]:
    """The field's digits: centred inside it; for cells, the surest one in each."""
    inside = [d for d in digits if inner.x <= d.box.cx < inner.x2 and inner.y <= d.box.cy < inner.y2]
    if not item.cells:
        return inside
    width = inner.w / item.cells
    best: dict[int, Digit] = {}
    for d in inside:
        cell = min(item.cells - 1, int((d.box.cx - inner.x) / width))
        if cell not in best or d.confidence > best[cell].confidence:
            best[cell] = d
    return [best[c] for c in sorted(best)]


def _to_page(box: Box, region: Box, zoom: float, alignment: Alignment, width: int, height: int) -> Box:
    """A box in a field crop's pixels -> the page's pixels (bounding box)."""
    x0, y0 = region.x + box.x / zoom, region.y + box.y / zoom
    x1, y1 = region.x + box.x2 / zoom, region.y + box.y2 / zoom
    in_reference = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    on_page = alignment.to_page(in_reference)
    left, top = np.floor(on_page.min(axis=0)).astype(int)
    right, bottom = np.ceil(on_page.max(axis=0)).astype(int)
    left, top = max(0, int(left)), max(0, int(top))
    return Box(left, top, max(1, min(int(right), width) - left), max(1, min(int(bottom), height) - top))


def read_fields(recognizer, page: np.ndarray, spec: FieldSpec, alignment: Alignment,
                reference: np.ndarray | None = None, options: FieldOptions = FieldOptions()) -> dict[str, FieldValue]:
    """Read each field of ``spec`` from ``page`` (the input's pixels) placed by ``alignment``.

    ``recognizer`` is an ``edge.pipeline.recognizer.Recognizer`` (anything with ``read(image)`` giving
    a Reading). ``reference`` (the blank form's pixels) enables dropout of the form's printing; it is
    skipped when the alignment failed, since the printing is then not where the reference has it.
    """
    height, width = page.shape[:2]
    values: dict[str, FieldValue] = {}
    for item in spec.fields:
        region, margin = _grown(item.box, options)
        zoom = float(np.clip(local_zoom(alignment, item.box), 1.0, options.max_zoom))
        crop = warp_region(page, alignment, region, zoom)
        if options.dropout and reference is not None and alignment.ok:
            crop = _dropout(crop, _reference_crop(reference, region, zoom), zoom, options)
        reading = recognizer.read(crop)
        inner = Box(round(margin * zoom), round(margin * zoom), round(item.box.w * zoom), round(item.box.h * zoom))
        chosen = _choose_digits(reading.digits, item, inner)
        if item.comb:
            value = "".join(d.char for d in chosen)
        else:
            keep = {id(d) for d in chosen}
            numbers = ["".join(d.char for d in number if id(d) in keep)
                       for line in reading.lines for number in line.numbers]
            value = " ".join(n for n in numbers if n)
            order = [d for line in reading.lines for number in line.numbers for d in number if id(d) in keep]
            chosen = order
        confidence = min((d.confidence for d in chosen), default=None)
        box, corners = region_on_page(alignment, item.box, width, height)
        digits = tuple(replace(d, box=_to_page(d.box, region, zoom, alignment, width, height)) for d in chosen)
        values[item.name] = FieldValue(item.name, value, confidence, box,
                                       tuple((float(x), float(y)) for x, y in corners), digits)
    return values


def read_form(recognizer, page: np.ndarray, form: Form, options: FieldOptions = FieldOptions()) -> FormReading:
    """Align ``page`` to the form's reference and read every field; a failed alignment is a note."""
    alignment = align(page, form.features, options.align)
    notes = []
    if not alignment.ok:
        notes.append(f"could not align the page to the form ({alignment.reason}): fields read from the page as it is")
    fields = read_fields(recognizer, page, form.spec, alignment, form.reference, options)
    return FormReading(fields=fields, alignment=alignment, notes=notes)
