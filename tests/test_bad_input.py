"""Bad input: every broken, odd or hostile file costs one clear line, and the batch goes on.

Every file here is built for real (Pillow writes the images, odd headers are crafted byte by byte)
and read by the real loader, pipeline and command line. Odd but readable images carry real MNIST
digits, so the tests check the reading, not only that nothing crashed.
"""

from __future__ import annotations

import builtins
import functools
import io
import json
import os
import re
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import edge.apps.recognize
from trainer.synth.pages import make_page
from edge.sources.images import DEFAULT_MAX_PIXELS, ImageError, load_image
from edge.pipeline.segment import SegmentOptions
from edge.sources.files import Source, expand_sources
from helpers import app_env, read_one

RECOGNIZE = Path(edge.apps.recognize.__file__)
PAGE_SIZE = (300, 560)  # small pages: two lines of MNIST digits, read in about 15 ms


# --- building files ------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def crafted_png(width: int, height: int, idat: bytes, bit_depth: int = 8, colour_type: int = 0) -> bytes:
    """A PNG built chunk by chunk, with valid CRCs, for sizes Pillow will not write."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def zero_width_png() -> bytes:
    return crafted_png(0, 10, zlib.compress(b"\0" * 10))


def zero_width_gif() -> bytes:
    screen = struct.pack("<HHBBB", 0, 10, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, 0, 10, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + frame + b";"


def huge_png_header() -> bytes:
    """Claims 30000x30000 8-bit grey (900 MB of pixels) in about a hundred bytes."""
    return crafted_png(30000, 30000, zlib.compress(b"\0" * 30001))


def write_bomb(path: Path) -> None:
    """A complete, valid 1-bit 30000x30000 PNG: half a megabyte that decodes to 900 million pixels."""
    row = b"\0" * (1 + 30000 // 8)  # filter byte + packed bits
    packer = zlib.compressobj(1)
    block = row * 1000
    idat = b"".join(packer.compress(block) for _ in range(30)) + packer.flush()
    path.write_bytes(crafted_png(30000, 30000, idat, bit_depth=1))


def tiff_with_damaged_second_page() -> bytes:
    """A valid one-page TIFF whose next-page pointer leads to a page without a width or height."""
    data = bytearray(encoded(np.full((20, 30), 200, np.uint8), "TIFF"))
    assert data[:4] == b"II*\x00"
    first = struct.unpack_from("<I", data, 4)[0]
    entries = struct.unpack_from("<H", data, first)[0]
    second = len(data) + len(data) % 2
    data += b"\0" * (second - len(data))
    data += struct.pack("<H", 1) + struct.pack("<HHII", 0x0103, 3, 1, 1) + struct.pack("<I", 0)  # compression only
    struct.pack_into("<I", data, first + 2 + 12 * entries, second)
    return bytes(data)


def encoded(image: np.ndarray, fmt: str, **options) -> bytes:
    """Pillow's encoding of a BGR or grey page."""
    rgb = image[..., ::-1] if image.ndim == 3 else image
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, fmt, **options)
    return buffer.getvalue()


def save_page(page, path: Path, **options) -> Path:
    Image.fromarray(np.ascontiguousarray(page.image[..., ::-1])).save(path, **options)
    return path


def grey(page) -> np.ndarray:
    return cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY)


def run_cli(*args, cwd: Path, timeout: float = 120, env: dict | None = None,
            command: list[str] | None = None) -> subprocess.CompletedProcess:
    """The real command line in a fresh interpreter; output decoded strictly as UTF-8."""
    full_env = {k: v for k, v in os.environ.items() if k != "EDGE_DIGITS_TEST_CRASH_ON"}
    full_env.update(env or {})
    prefix = command or [sys.executable, str(RECOGNIZE)]
    return subprocess.run(prefix + [str(a) for a in args], cwd=cwd, capture_output=True, encoding="utf-8",
                          errors="strict", timeout=timeout, env=full_env)


def records_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def one_line_error(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message and "\n" not in message and message == message.strip(), repr(message)
    return message


@functools.lru_cache(maxsize=None)
def plain_page(seed: int = 2):
    """Hershey-font digits: no MNIST needed (for tests that check errors, not readings)."""
    return make_page("hershey", None, seed=seed, size=PAGE_SIZE, n_lines=2)


@pytest.fixture(scope="module")
def page(digit_bank):
    return make_page("clean", digit_bank, seed=3, size=PAGE_SIZE, n_lines=2)


@pytest.fixture(scope="module")
def other_page(digit_bank):
    return make_page("clean", digit_bank, seed=4, size=PAGE_SIZE, n_lines=2)


# --- files that are not images, or broken ones ---------------------------------------------------

def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


NOT_IMAGES = {
    "empty": (lambda page: b"", r"^empty file$"),
    "text named .png": (lambda page: b"Dear reader,\nthese are the scores: 12 34 56\n", r"^a text file, not an image$"),
    "PDF named .png": (lambda page: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
                       r"^a PDF document, not an image$"),
    "PNG cut in half": (lambda page: _half(encoded(page.image, "PNG")), r"^truncated or corrupt image data \(.+\)$"),
    "JPEG cut in half": (lambda page: _half(encoded(page.image, "JPEG")), r"^truncated or corrupt image data \(.+\)$"),
    # Cut right after the header: the file still says what it is, so the cause is truncation too.
    "PNG cut after its header": (lambda page: encoded(page.image, "PNG")[:33], r"truncated|incomplete"),
    "JPEG cut inside its header": (lambda page: encoded(page.image, "JPEG")[:20], r"truncated|incomplete"),
    "zero-width PNG": (lambda page: zero_width_png(), r"zero (size|width)|\b0x10\b"),
    "zero-width GIF": (lambda page: zero_width_gif(), r"zero (size|width)|\b0x10\b"),
    "30000x30000 PNG": (lambda page: huge_png_header(),
                        rf"^30000x30000 is 900,000,000 pixels, over the limit of {DEFAULT_MAX_PIXELS:,} "
                        r"\(raise it with --max-pixels\)$"),
}


@pytest.mark.parametrize("kind", list(NOT_IMAGES))
def test_bad_file_gives_one_line_naming_the_cause(kind, tmp_path):
    # Built from a plain grey page so these tests run without MNIST.
    plain = plain_page(1)
    build, expected = NOT_IMAGES[kind]
    suffix = ".gif" if "GIF" in kind else ".jpg" if "JPEG" in kind else ".png"
    path = tmp_path / f"input{suffix}"
    path.write_bytes(build(plain))
    with pytest.raises(ImageError) as exc:
        load_image(path)
    assert re.search(expected, one_line_error(exc)), f"{kind}: {exc.value}"


def test_tiff_with_a_damaged_second_page_is_read_or_refused(tmp_path):
    """Damage in a later page of a TIFF (found by test_fuzz.py) must not escape as another exception."""
    path = tmp_path / "scan.tif"
    path.write_bytes(tiff_with_damaged_second_page())
    try:
        loaded = load_image(path)
    except ImageError as exc:
        one_line_error(exc)
    else:
        assert loaded.pixels.shape == (20, 30)


@pytest.mark.slow
def test_damaged_tiff_does_not_stop_the_batch(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "a-damaged.tif").write_bytes(tiff_with_damaged_second_page())
    save_page(plain_page(2), folder / "b-good.png")
    result = run_cli("scans", "--json", cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    records = records_of(result.stdout)
    # Every page of the TIFF gets a record: the first is read, the damaged second one is an error.
    assert [(r["source"], r.get("page")) for r in records] == [
        ("scans/a-damaged.tif", 1), ("scans/a-damaged.tif", 2), ("scans/b-good.png", None)]
    assert "digits" in records[0] and "error" in records[1] and result.returncode == 1
    assert records[2]["digits"]  # read (Hershey digits: what they read as depends on the OpenCV version)


@pytest.mark.slow
def test_roi_outside_one_image_of_a_batch_costs_that_image(tmp_path):
    """A batch's images differ in size: --roi outside a small one was a usage error that stopped
    the run there, the later images never read; now that image is an error and the batch goes on."""
    folder = tmp_path / "scans"
    folder.mkdir()
    page = plain_page(2)
    save_page(page, folder / "a-page.png")
    Image.fromarray(page.image[:100, :150, ::-1].copy()).save(folder / "b-small.png")
    save_page(plain_page(3), folder / "c-page.png")
    result = run_cli("scans", "--json", "--roi", "200,150,300,120", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    records = records_of(result.stdout)
    assert [r["source"] for r in records] == ["scans/a-page.png", "scans/b-small.png", "scans/c-page.png"]
    assert "digits" in records[0] and "digits" in records[2]
    message = "--roi 200,150,300,120 lies outside the 150x100 image"
    assert records[1] == {"source": "scans/b-small.png", "error": message}
    assert result.stderr.splitlines() == [f"digits-recognize: scans/b-small.png: {message}"]


@pytest.mark.slow
def test_a_name_too_long_and_an_empty_name_cost_only_themselves(tmp_path):
    """A name longer than the file system allows raised OSError out of the listing (a traceback,
    for images and for video names alike); an empty argument read the working folder."""
    save_page(plain_page(2), tmp_path / "good.png")
    long_image, long_video = "a" * 5000 + ".png", "b" * 5000 + ".mp4"
    result = run_cli(long_image, long_video, "", "good.png", "--json", cwd=tmp_path)
    assert "Traceback" not in result.stderr and result.returncode == 1, result.stderr[-2000:]
    records = records_of(result.stdout)
    assert [r.get("error") for r in records[:3]] == ["cannot open (File name too long)"] * 2 + ["empty path"]
    assert records[3]["source"] == "good.png" and "digits" in records[3]
    assert len(result.stderr.splitlines()) == 3


@pytest.mark.slow
def test_huge_image_and_bomb_are_refused_before_decoding(tmp_path):
    """Refused from the header: fast, and the process never holds the 900 MB of pixels."""
    huge = tmp_path / "huge.png"
    huge.write_bytes(huge_png_header())
    bomb = tmp_path / "bomb.png"
    write_bomb(bomb)
    assert bomb.stat().st_size < 1_000_000
    for path in (huge, bomb):
        start = time.perf_counter()
        with pytest.raises(ImageError, match=r"900,000,000 pixels, over the limit"):
            load_image(path)
        assert time.perf_counter() - start < 1.0
    # Peak memory, in a fresh process so that nothing else this test session did counts.
    probe = textwrap.dedent(
        """
        import sys
        from edge.sources.images import ImageError, load_image
        for path in sys.argv[1:]:
            try:
                load_image(path)
                print("decoded", path)
            except ImageError as exc:
                print("refused:", exc)
        # The child's own peak (VmHWM): ru_maxrss can carry over the parent's peak across fork.
        with open("/proc/self/status") as status:
            print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024)
        """
    )
    result = subprocess.run([sys.executable, "-c", probe, str(huge), str(bomb)], capture_output=True, text=True,
                            timeout=60, env=app_env())
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert [line.startswith("refused:") for line in lines[:2]] == [True, True], lines
    peak_mb = int(lines[-1])
    assert peak_mb < 250, f"refusing two 900-megapixel images peaked at {peak_mb} MB"


def test_pixel_limit_is_adjustable(page, tmp_path, recognizer):
    path = save_page(page, tmp_path / "page.png")
    pixels = PAGE_SIZE[0] * PAGE_SIZE[1]
    with pytest.raises(ImageError) as exc:
        load_image(path, max_pixels=pixels - 1)
    assert one_line_error(exc) == (
        f"560x300 is {pixels:,} pixels, over the limit of {pixels - 1:,} (raise it with --max-pixels)"
    )
    assert recognizer.read(load_image(path, max_pixels=pixels).pixels).text == page.text


@pytest.mark.slow
def test_max_pixels_option_on_the_command_line(page, tmp_path):
    small = save_page(page, tmp_path / "small.png")
    big = tmp_path / "big.png"
    Image.fromarray(cv2.resize(page.image, None, fx=2, fy=2)[..., ::-1]).save(big)
    result = run_cli(small, big, "--json", "--max-pixels", 200_000, cwd=tmp_path)
    assert result.returncode == 1
    by_source = {r["source"]: r for r in records_of(result.stdout)}
    assert by_source[str(small)]["text"] == page.text
    assert by_source[str(big)]["error"] == (
        "1120x600 is 672,000 pixels, over the limit of 200,000 (raise it with --max-pixels)"
    )
    assert result.stderr.splitlines() == [f"digits-recognize: {big}: {by_source[str(big)]['error']}"]


# --- odd but readable images, with real digits in them --------------------------------------------


def _write_16bit_tiff(page, other, path):
    Image.fromarray(grey(page).astype(np.uint16) * 257).save(path)  # mode I;16


def _write_12bit_in_16bit_tiff(page, other, path):
    Image.fromarray(grey(page).astype(np.uint16) * 16).save(path)  # a 12-bit sensor's values


def _write_16bit_pgm(page, other, path):
    Image.fromarray(grey(page).astype(np.uint16) * 257).save(path)  # netpbm, maxval 65535


def _write_32bit_int_tiff(page, other, path):
    Image.fromarray(grey(page).astype(np.int32) * 257).save(path)  # mode I, 16-bit values


def _write_float_tiff(page, other, path):
    Image.fromarray(grey(page).astype(np.float32) / 255.0).save(path)  # mode F, 0..1


def _write_1bit_png(page, other, path):
    Image.fromarray(grey(page) > 128).save(path)  # mode 1, a bilevel scan


def _write_rgba_dark_ink(page, other, path):
    # Black ink whose opacity is the ink; every pixel's colour is black, so only alpha shows the
    # digits: read without it, the page is solid black.
    rgba = np.zeros(page.image.shape[:2] + (4,), np.uint8)
    rgba[..., 3] = 255 - grey(page)
    Image.fromarray(rgba, "RGBA").save(path)


def _write_rgba_light_ink(page, other, path):
    rgba = np.full(page.image.shape[:2] + (4,), 255, np.uint8)  # white chalk on a transparent sheet
    rgba[..., 3] = 255 - grey(page)
    Image.fromarray(rgba, "RGBA").save(path)


def _write_la(page, other, path):
    la = np.stack([np.zeros_like(grey(page)), 255 - grey(page)], axis=-1)
    Image.fromarray(la, "LA").save(path)


def _write_palette_transparent_paper(page, other, path):
    image = Image.fromarray(grey(page)).convert("P", palette=Image.ADAPTIVE, colors=32)
    paper = int(np.bincount(np.asarray(image).ravel()).argmax())
    palette = image.getpalette()
    palette[3 * paper : 3 * paper + 3] = [0, 0, 0]  # the paper entry is black *and* transparent
    image.putpalette(palette)
    image.save(path, transparency=paper)


def _write_cmyk_jpeg(page, other, path):
    Image.fromarray(page.image[..., ::-1]).convert("CMYK").save(path, quality=95)


def _write_animated_gif(page, other, path):
    first, second = Image.fromarray(grey(page)), Image.fromarray(grey(other))
    first.save(path, save_all=True, append_images=[second], duration=200, loop=0)


ODD_IMAGES = {
    "16-bit TIFF": ("deep.tif", _write_16bit_tiff, r"^16-bit image reduced to 8 bits$"),
    "12-bit values in a 16-bit TIFF": ("sensor.tif", _write_12bit_in_16bit_tiff, None),
    "16-bit PGM": ("deep.pgm", _write_16bit_pgm, None),
    "32-bit integer TIFF": ("int.tif", _write_32bit_int_tiff, None),
    "float TIFF": ("float.tif", _write_float_tiff, r"float image scaled to 8 bits"),
    "1-bit PNG": ("bilevel.png", _write_1bit_png, None),
    "RGBA PNG, dark ink on transparent": ("rgba.png", _write_rgba_dark_ink, r"^transparent areas read as paper$"),
    "RGBA PNG, light ink on transparent": ("chalk.png", _write_rgba_light_ink, r"^transparent areas read as paper$"),
    "grey+alpha PNG": ("la.png", _write_la, r"^transparent areas read as paper$"),
    "palette PNG, transparent paper": ("palette.png", _write_palette_transparent_paper,
                                       r"^transparent areas read as paper$"),
    "CMYK JPEG": ("cmyk.jpg", _write_cmyk_jpeg, r"^CMYK image converted to RGB$"),
    "animated GIF": ("anim.gif", _write_animated_gif, r"^animated image: read the first of 2 frames$"),
}


@pytest.mark.parametrize("kind", list(ODD_IMAGES))
def test_odd_image_is_read_correctly(kind, page, other_page, recognizer, tmp_path):
    name, write, note = ODD_IMAGES[kind]
    path = tmp_path / name
    write(page, other_page, path)
    loaded = load_image(path)
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape[:2] == PAGE_SIZE
    reading = recognizer.read(loaded.pixels)
    assert reading.text == page.text, f"{kind}: read {reading.text!r}, notes {loaded.notes}"
    if note is not None:
        assert any(re.search(note, n) for n in loaded.notes), loaded.notes


@pytest.mark.parametrize("name,pixels", [
    ("black.png", np.zeros((480, 640), np.uint8)),
    ("white.png", np.full((480, 640), 255, np.uint8)),
    ("black-colour.jpg", np.zeros((480, 640, 3), np.uint8)),
    ("dot.png", np.zeros((1, 1), np.uint8)),
    ("white-dot.png", np.full((1, 1), 255, np.uint8)),
    ("line.png", np.zeros((1, 500), np.uint8)),
])
def test_plain_images_are_read_as_nothing(name, pixels, tmp_path, recognizer):
    path = tmp_path / name
    Image.fromarray(pixels).save(path)
    outcome = read_one(Source(name, path), recognizer)
    assert outcome.ok, outcome.record
    height, width = pixels.shape[:2]
    assert (outcome.record["width"], outcome.record["height"]) == (width, height)
    assert outcome.record["digits"] == [] and outcome.record["text"] == ""


def _speckled_strip() -> np.ndarray:
    strip = np.full((1, 2000), 235, np.uint8)
    strip[0, 200:1400:4] = 20  # 300 separate specks
    strip[0, 1500:1600] = 20  # and one long dash
    return strip


@pytest.mark.parametrize("name,pixels", [
    ("row.png", _speckled_strip()),
    ("column.png", np.ascontiguousarray(_speckled_strip().T)),
])
def test_one_pixel_strips_are_read_without_crashing(name, pixels, tmp_path, recognizer):
    """A 1-pixel-high (or wide) image with ink in it: a reading or an error record, never an exception."""
    path = tmp_path / name
    Image.fromarray(pixels).save(path)
    outcome = read_one(Source(name, path), recognizer)
    assert outcome.record["source"] == name
    if outcome.ok:
        assert (outcome.record["height"], outcome.record["width"]) == pixels.shape


# --- noise -------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _noise_pages() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2024)
    size = (900, 700)
    pepper = np.full(size, 235, np.uint8)
    pepper[rng.random(size) < 0.15] = 20  # 15% of the pixels: ink specks all over the page
    return {
        "uniform grey": rng.integers(0, 256, size, dtype=np.uint8),
        "uniform colour": rng.integers(0, 256, size + (3,), dtype=np.uint8),
        "gaussian on paper": np.clip(rng.normal(200, 30, size), 0, 255).astype(np.uint8),
        "salt and pepper": pepper,
    }


@pytest.mark.parametrize("kind", list(_noise_pages()))
def test_page_covered_in_noise_gives_no_confident_digits(kind, recognizer):
    """No digits, or only unsure ones; and never more than the per-image cap, whatever the page."""
    reading = recognizer.read(_noise_pages()[kind])
    confident = [d for d in reading.digits if d.confidence >= 0.9]
    assert confident == [], f"{kind}: {len(reading.digits)} digits, {len(confident)} of them confident"
    assert len(reading.digits) <= SegmentOptions().max_candidates


def scribbles(count: int, seed: int = 5, size: tuple[int, int] = (1200, 900)) -> np.ndarray:
    """Short pen strokes everywhere: hundreds of blobs that each look a bit like a digit."""
    rng = np.random.default_rng(seed)
    image = np.full(size, 235, np.uint8)
    for _ in range(count):
        x, y = int(rng.integers(0, size[1])), int(rng.integers(0, size[0]))
        angle, length = rng.uniform(0, np.pi), int(rng.integers(8, 30))
        end = (int(x + length * np.cos(angle)), int(y + length * np.sin(angle)))
        cv2.line(image, (x, y), end, 30, 2)
    return image


def test_max_digits_caps_what_one_image_can_give():
    """--max-digits bounds the digits reported for one image, however many blobs it holds."""
    from edge.pipeline.recognizer import build_recognizer

    parser = edge.apps.recognize.build_parser()
    settings = edge.apps.recognize.settings_from_args(parser.parse_args(["--max-digits", "40", "x.png"]))
    capped = build_recognizer(settings.runtime, settings.options)
    assert capped.options.segment.max_candidates == 40
    reading = capped.read(scribbles(1500, size=(900, 700)))
    assert any("40" in note for note in reading.notes), reading.notes  # and the reading says it was cut
    assert len(reading.digits) <= 40, f"{len(reading.digits)} digits from an image capped at 40"


# --- folders, links, permissions and names -------------------------------------------------------


def test_symlink_loop_is_one_error_and_the_rest_is_read(tmp_path):
    (tmp_path / "scans" / "sub").mkdir(parents=True)
    plain = plain_page(2)
    save_page(plain, tmp_path / "scans" / "a.png")
    save_page(plain, tmp_path / "scans" / "sub" / "b.png")
    (tmp_path / "scans" / "sub" / "loop").symlink_to("..")
    (tmp_path / "scans" / "sub" / "again").symlink_to(tmp_path / "scans")
    sources = list(expand_sources([str(tmp_path / "scans")], recursive=True))
    names = {Path(s.name).relative_to(tmp_path).as_posix(): s for s in sources}
    assert set(names) == {"scans/a.png", "scans/sub/b.png", "scans/sub/loop", "scans/sub/again"}
    for loop in ("scans/sub/loop", "scans/sub/again"):
        assert names[loop].error == "symlink loop: folder already visited"
    assert names["scans/a.png"].error is None and names["scans/sub/b.png"].error is None


def test_link_to_itself_costs_one_entry_not_the_folder(tmp_path):
    """``x.png -> x.png`` cannot be opened (ELOOP); the other images in its folder must still be read."""
    folder = tmp_path / "scans"
    folder.mkdir()
    plain = plain_page(2)
    save_page(plain, folder / "a.png")
    save_page(plain, folder / "c.png")
    (folder / "b.png").symlink_to("b.png")
    (folder / "gone.png").symlink_to("missing.png")
    sources = {Path(s.name).name: s for s in expand_sources([str(folder)])}
    assert {"a.png", "c.png"} <= set(sources), sources
    assert sources["a.png"].error is None and sources["c.png"].error is None


def test_dangling_link_is_one_error(tmp_path, recognizer):
    (tmp_path / "gone.png").symlink_to("missing.png")
    [source] = expand_sources([str(tmp_path)])
    outcome = read_one(source, recognizer)
    assert outcome.record == {"source": str(tmp_path / "gone.png"), "error": "file not found"}


def test_unreadable_folder_is_one_error_and_the_rest_is_read(tmp_path, monkeypatch, recognizer):
    # Tests run as root, which reads chmod-000 folders anyway: make the OS refuse instead.
    (tmp_path / "scans" / "locked").mkdir(parents=True)
    plain = plain_page(2)
    save_page(plain, tmp_path / "scans" / "a.png")
    save_page(plain, tmp_path / "scans" / "locked" / "secret.png")
    save_page(plain, tmp_path / "scans" / "z.png")
    locked = tmp_path / "scans" / "locked"
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    outcomes = [read_one(s, recognizer) for s in expand_sources([str(tmp_path / "scans")], recursive=True)]
    assert [o.source for o in outcomes] == [str(tmp_path / "scans" / n) for n in ("a.png", "locked", "z.png")]
    assert outcomes[1].record == {"source": str(locked), "error": "permission denied"}
    assert outcomes[0].ok and outcomes[2].ok and outcomes[0].record["digits"]


@pytest.mark.slow
def test_unreadable_folder_on_the_command_line(tmp_path):
    (tmp_path / "scans" / "locked").mkdir(parents=True)
    plain = plain_page(2)
    save_page(plain, tmp_path / "scans" / "a.png")
    save_page(plain, tmp_path / "scans" / "locked" / "secret.png")
    # The real command line, with the operating system refusing to list one folder.
    wrapper = textwrap.dedent(
        f"""
        import os, runpy, sys
        real = os.scandir
        def scandir(path="."):
            if os.path.basename(os.fspath(path).rstrip("/")) == "locked":
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real(path)
        os.scandir = scandir
        sys.argv = [{str(RECOGNIZE)!r}] + sys.argv[1:]
        runpy.run_path({str(RECOGNIZE)!r}, run_name="__main__")
        """
    )
    result = run_cli("scans", "--recursive", "--json", cwd=tmp_path, command=[sys.executable, "-c", wrapper])
    assert result.returncode == 1, result.stderr
    records = records_of(result.stdout)
    assert [r["source"] for r in records] == ["scans/a.png", "scans/locked"]
    assert records[0]["digits"]
    assert records[1]["error"] == "permission denied"
    assert result.stderr.splitlines() == ["digits-recognize: scans/locked: permission denied"]


def test_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    save_page(plain_page(2), path)
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    with pytest.raises(ImageError) as exc:
        load_image(path)
    message = one_line_error(exc)
    assert "permission denied" in message.lower() and "truncated" not in message, message


def test_fifo_named_like_an_image_is_refused_without_blocking(tmp_path, recognizer):
    fifo = tmp_path / "camera.png"
    os.mkfifo(fifo)
    start = time.perf_counter()
    [source] = expand_sources([str(tmp_path)])
    outcome = read_one(source, recognizer)
    assert outcome.record == {"source": str(fifo), "error": "not a regular file"}
    assert time.perf_counter() - start < 2


def test_folder_given_as_a_file_name(tmp_path):
    (tmp_path / "scan.png").mkdir()
    with pytest.raises(ImageError, match=r"^is a folder, not an image$"):
        load_image(tmp_path / "scan.png")


@pytest.mark.slow
def test_non_utf8_file_name_is_read_and_printed(page, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    raw = os.path.join(os.fsencode(folder), b"caf\xe9-scores.png")
    with open(raw, "wb") as handle:
        handle.write(encoded(page.image, "PNG"))
    result = run_cli("scans", "--json", "--out", "annotated", cwd=tmp_path)  # stdout decoded strictly
    assert result.returncode == 0, result.stderr
    [record] = records_of(result.stdout)
    assert record["source"] == "scans/caf\\xe9-scores.png"  # undecodable bytes as escapes: printable, distinct
    assert record["text"] == page.text
    written = [p for p in (tmp_path / "annotated").iterdir()]
    assert len(written) == 1 and written[0].suffix == ".png"
    assert written[0].name.isascii()


def test_names_differing_only_in_undecodable_bytes_stay_distinct(tmp_path):
    """Two files must not share one name in the output: results (and --resume) could not tell them apart."""
    plain = encoded(plain_page(2).image, "PNG")
    for raw in (b"caf\xe9.png", b"caf\xe8.png"):
        with open(os.path.join(os.fsencode(tmp_path), raw), "wb") as handle:
            handle.write(plain)
    names = [s.name for s in expand_sources([str(tmp_path)])]
    assert len(names) == 2 and len(set(names)) == 2, names
    for name in names:
        name.encode("utf-8")  # still printable


# --- the batch goes on ----------------------------------------------------------------------------


@pytest.mark.slow
def test_batch_of_bad_and_good_files_gives_one_record_each(page, other_page, tmp_path):
    """The issue's list in one folder: a record per input, errors for the bad, right readings for the good."""
    folder = tmp_path / "scans"
    (folder / "sub").mkdir(parents=True)
    bad = {
        "empty.png": b"",
        "notes.png": b"total: 12 + 30 = 42\n",
        "paper.png": b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n",
        "cut.png": encoded(page.image, "PNG")[:3000],
        "cut.jpg": encoded(page.image, "JPEG", quality=90)[:2000],
        "zero-width.png": zero_width_png(),
        "huge.png": huge_png_header(),
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    (folder / "gone.png").symlink_to("missing.png")
    (folder / "sub" / "loop").symlink_to("..")
    good = {"page-a.png": page, "page-b.jpg": other_page, "sub/page-c.png": other_page}
    save_page(page, folder / "page-a.png")
    save_page(other_page, folder / "page-b.jpg", quality=95)
    save_page(other_page, folder / "sub" / "page-c.png")
    odd = ["deep.tif", "float.tif", "rgba.png", "palette.png", "cmyk.jpg", "anim.gif"]
    for kind, (name, write, _) in ODD_IMAGES.items():
        if name in odd:
            write(page, other_page, folder / name)
            good[name] = page
    empty = {"black.png": np.zeros((400, 300), np.uint8), "white.png": np.full((400, 300), 255, np.uint8),
             "dot.png": np.zeros((1, 1), np.uint8)}
    for name, pixels in empty.items():
        Image.fromarray(pixels).save(folder / name)
    # What noise reads as is test_page_covered_in_noise_gives_no_confident_digits' business; here it
    # only has to be a reading like any other image.
    Image.fromarray(_noise_pages()["uniform grey"][:400, :300]).save(folder / "noise.png")

    result = run_cli("scans", "--recursive", "--json", cwd=tmp_path)

    assert result.returncode == 1
    records = records_of(result.stdout)
    by_source = {r["source"]: r for r in records}
    expected = set(bad) | {"gone.png", "sub/loop", "noise.png"} | set(good) | set(empty)
    assert len(records) == len(expected) and set(by_source) == {f"scans/{n}" for n in expected}
    for name in list(bad) + ["gone.png", "sub/loop"]:
        assert set(by_source[f"scans/{name}"]) == {"source", "error"}, by_source[f"scans/{name}"]
    for name, truth in good.items():
        record = by_source[f"scans/{name}"]
        assert record.get("text") == truth.text, (name, record)
    for name in empty:
        assert by_source[f"scans/{name}"]["digits"] == [], name
    assert "error" not in by_source["scans/noise.png"]
    errors = [r for r in records if "error" in r]
    assert sorted(result.stderr.splitlines()) == sorted(
        f"digits-recognize: {r['source']}: {r['error']}" for r in errors
    )
    assert all("\n" not in r["error"] for r in errors)
