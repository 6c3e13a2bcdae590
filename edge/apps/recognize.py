"""The ``digits-recognize`` command: flags in, typed settings out, then one run of the driver.

    digits-recognize scans/ --recursive --json > readings.jsonl
    digits-recognize photo.jpg doc.pdf --out annotated/ --csv digits.csv
    digits-recognize --camera                 # webcam 0, window if there is a display
    python edge/recognize.py clip.mp4 --json  # the same, from a checkout
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path

from edge import __version__
from edge.runtime.settings import limit_blas_threads

log = logging.getLogger("edge")
PROG = "digits-recognize"


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def add_model_arguments(parser, threads_help: str = "interpreter threads (default 1)") -> None:
    """--model, --backend and --threads, the same for every command that runs the model."""
    from edge.runtime.backends import BACKEND_NAMES

    parser.add_argument("-m", "--model", type=Path, help="a .tflite model with its .json beside it "
                        "(default: the shipped models/digits_int8.tflite)")
    parser.add_argument("--backend", choices=BACKEND_NAMES,
                        help="interpreter to use (default: the first installed of " + ", ".join(BACKEND_NAMES) + ")")
    parser.add_argument("-t", "--threads", type=positive_int, default=1, help=threads_help)
    parser.add_argument("--string-model", type=Path, metavar="FILE",
                        help="the string reader that reads numbers whole (default: the shipped models/strings_int8.tflite)")
    parser.add_argument("--no-strings", action="store_true",
                        help="read digit by digit only, without the string reader's second opinion")


def build_parser() -> argparse.ArgumentParser:
    from edge.pipeline.segment import POLARITIES, SegmentOptions
    from edge.sources.images import DEFAULT_MAX_PAGES, DEFAULT_MAX_PIXELS

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read handwritten digits and numbers in images, PDFs, videos and camera frames "
                    "with an int8 TFLite model.",
        epilog="Exit status: 0 every input was read, 1 some input failed, 2 usage or model error, "
               "128+N stopped by signal N (130 for Ctrl+C).",
    )
    parser.add_argument("sources", nargs="*", metavar="SOURCE",
                        help="image, PDF or video file, folder, glob pattern, or - for standard input")
    parser.add_argument("--version", action="store_true", help="print versions (tool, backend, model) and exit")

    add_model_arguments(parser.add_argument_group("model and runtime"),
                        threads_help="interpreter and OpenCV threads (default 1: fastest for digits and frames)")

    reading = parser.add_argument_group("reading")
    reading.add_argument("-c", "--min-confidence", type=fraction, default=0.0, metavar="C",
                         help="digits below this confidence are shown as '?' (default 0: keep all)")
    reading.add_argument("--drop-uncertain", action="store_true",
                         help="drop digits below --min-confidence instead of marking them")
    reading.add_argument("--polarity", choices=POLARITIES, default="auto",
                         help="ink darker or lighter than the paper (default: detect)")
    reading.add_argument("--no-split", action="store_true", help="never split wide blobs into touching digits")
    reading.add_argument("--roi", metavar="X,Y,W,H", help="only read this region of each image or frame (pixels)")
    reading.add_argument("--max-digits", type=positive_int, default=SegmentOptions.max_candidates,
                         help=f"most candidates read from one image (default {SegmentOptions.max_candidates})")
    reading.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                         help=f"refuse images and pages larger than this (default {DEFAULT_MAX_PIXELS:,})")
    reading.add_argument("--max-pages", type=positive_int, default=DEFAULT_MAX_PAGES,
                         help=f"refuse documents with more pages than this (default {DEFAULT_MAX_PAGES:,})")
    reading.add_argument("--pdf-dpi", type=positive_float, metavar="DPI",
                         help="resolution PDF pages are rendered at (default 150: digits 5 mm tall are 30 px)")

    files = parser.add_argument_group("inputs and outputs")
    files.add_argument("-r", "--recursive", action="store_true", help="read folders recursively")
    files.add_argument("--json", action="store_true", help="JSON Lines on stdout, one object per image, page or frame")
    files.add_argument("--csv", type=Path, metavar="FILE", help="also write a CSV table, one row per digit")
    files.add_argument("--out", type=Path, metavar="DIR",
                       help="annotated copies of images and pages (PNG) and of videos and camera streams (AVI) here")
    files.add_argument("--debug", type=Path, metavar="DIR",
                       help="write intermediate images (ink, mask, candidates, model inputs) here")
    files.add_argument("-o", "--output", type=Path, metavar="FILE",
                       help="also write JSON Lines results to FILE, one flushed line per record (see --resume); "
                            "with --engine ray FILE may be a folder, where each run writes a shard of its own")
    files.add_argument("--resume", action="store_true",
                       help="with --output: skip what already has a result there and append")
    files.add_argument("-j", "--jobs", type=positive_int, default=1, metavar="N",
                       help="read images and documents in N worker processes (default 1); --engine ray: "
                            "N actors (on a cluster without -j: as many as it has CPUs)")
    files.add_argument("--unordered", action="store_true",
                       help="with --jobs: write results as they finish instead of in input order "
                            "(--engine ray always does)")
    files.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: this machine's processes (default); ray: a Ray cluster (pip install '.[ray]')")
    files.add_argument("--ray-address", metavar="ADDRESS",
                       help="with --engine ray: join this running cluster (default: start a local Ray sized by --jobs)")
    files.add_argument("--fields", type=Path, metavar="FILE.json",
                       help='read the named fields of a form: {"reference": "blank.png", "fields": {"name": [x, y, w, h]}}')
    files.add_argument("--show", action="store_true",
                       help="show each image or page in a window with what was read (any key: next; q: quit)")
    files.add_argument("--no-progress", action="store_true", help="no progress bar")

    live = parser.add_argument_group("videos and cameras")
    live.add_argument("--camera", nargs="?", const="0", metavar="INDEX",
                      help="read a webcam (OpenCV index, default 0) or 'picamera' (Raspberry Pi camera via Picamera2)")
    live.add_argument("--video", type=Path, action="append", default=[], metavar="FILE",
                      help="read a video file (any file OpenCV decodes; files ending .mp4, .avi, ... are videos anyway)")
    live.add_argument("--width", type=positive_int, help="requested capture width (camera)")
    live.add_argument("--height", type=positive_int, help="requested capture height (camera)")
    live.add_argument("--fps", type=positive_int, help="requested capture frame rate (camera)")
    live.add_argument("--headless", action="store_true", help="no window (automatic when there is no display)")
    live.add_argument("--changes-only", action="store_true", help="with --json: only frames whose reading changed")
    live.add_argument("--every", type=positive_int, default=1, metavar="N", help="read every Nth frame")
    live.add_argument("--record", type=Path, metavar="FILE", help="write the annotated stream to a video file")

    parser.add_argument("-v", "--verbose", action="store_true", help="backend, model and timings on stderr")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr")
    return parser


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number more than 0, got {value}")
    return value


def _writable_file(flag: str, path: Path | None, sources: list[str] = ()) -> None:
    """A file an output will be written to: its folder must exist and take files, it must not be a
    folder, a file that cannot be written, or one of the inputs (it would be emptied before it is read)."""
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a folder, not a file")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: no such folder {str(path.parent)!r}")
    if not path.exists():
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {path}: permission denied in {str(path.parent)!r}")
        return
    if not os.access(path, os.W_OK):
        raise UsageError(f"{flag} {path}: permission denied")
    if any(_same_file(source, path) for source in sources):
        raise UsageError(f"{flag} {path}: is one of the inputs; it would be overwritten before it is read")


def _same_file(source: str, path: Path) -> bool:
    try:
        return os.path.isfile(source) and os.path.samefile(source, path)
    except (OSError, ValueError):  # a name the file system cannot hold names no existing file
        return False


def _writable_folder(flag: str, path: Path | None) -> None:
    """A folder images will be written to: it must be a folder that takes files, or one that can be
    made (its nearest existing parent takes files); cv2.imwrite fails without a word otherwise."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path}: is a file, not a folder")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {path}: cannot be made ({str(existing)!r} is a file)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: permission denied" + ("" if existing == path else f" in {str(existing)!r}"))


def settings_from_args(args: argparse.Namespace):
    """The run's typed settings from the flags; UsageError for what does not fit together."""

    from edge.apps.driver import InputSettings, OutputSettings, RunSettings
    from edge.apps.live import check_record_path, display_available, parse_roi
    from edge.pipeline.recognizer import RecognizeOptions
    from edge.pipeline.segment import SegmentOptions
    from edge.pipeline.split import SplitOptions
    from edge.runtime.settings import RuntimeSettings
    from edge.sources.capture import parse_camera
    from edge.sources.images import PageOptions

    if args.resume and args.output is None:
        raise UsageError("--resume needs --output FILE (the results to continue from)")
    if args.min_confidence == 0 and args.drop_uncertain:
        raise UsageError("--drop-uncertain needs --min-confidence")
    if not args.sources and not args.video and args.camera is None:
        raise UsageError("give at least one SOURCE (an image, PDF, video, folder, glob or -), or --camera")
    if args.camera is not None:
        if args.sources or args.video:
            raise UsageError("a camera never ends: read it on its own, without other SOURCEs or --video")
        try:
            parse_camera(args.camera)
        except ValueError as exc:
            raise UsageError(f"--camera: {exc}") from None
    named = [*args.sources, *(str(video) for video in args.video)]  # the files an output must not overwrite
    if args.sources.count("-") > 1:
        raise UsageError("standard input (-) can be read once")
    try:
        roi = parse_roi(args.roi) if args.roi else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    inputs = InputSettings(
        sources=tuple(args.sources), videos=tuple(args.video), camera=args.camera, recursive=args.recursive,
        pages=PageOptions(max_pixels=args.max_pixels, max_pages=args.max_pages, pdf_dpi=args.pdf_dpi),
        roi=roi, every=args.every, width=args.width, height=args.height, fps=args.fps,
    )
    streams = inputs.has_streams
    stream_count = len(args.video) + (args.camera is not None) + sum(
        1 for s in args.sources if s != "-" and Path(s).suffix.lower() in _video_extensions())
    only_streams = [flag for flag, given in (("--every", args.every != 1), ("--changes-only", args.changes_only),
                                             ("--record", args.record is not None), ("--headless", args.headless))
                    if given]
    if only_streams and not streams:
        raise UsageError(f"{only_streams[0]} applies to videos and cameras; no video or camera was given")
    for flag, given in (("--width", args.width), ("--height", args.height), ("--fps", args.fps)):
        if given and args.camera is None:
            raise UsageError(f"{flag} is a request to a camera; no --camera was given")
    if args.record is not None:
        if stream_count > 1:
            raise UsageError("--record writes one stream; use --out DIR for an annotated video of each")
        try:
            check_record_path(args.record)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        _writable_file("--record", args.record, named)
    if args.jobs > 1 and streams:
        raise UsageError("--jobs reads images and documents side by side; videos and cameras are read in order, "
                         "one frame after another")
    if args.unordered and args.jobs == 1:
        raise UsageError("--unordered applies with --jobs N")
    if args.string_model is not None and args.no_strings:
        raise UsageError("--string-model and --no-strings contradict each other")
    if args.ray_address is not None and args.engine != "ray":
        raise UsageError("--ray-address applies with --engine ray")
    if args.ray_address is not None and not args.ray_address.strip():
        raise UsageError("--ray-address is empty (give HOST:PORT, or leave it out to start a local Ray)")
    if args.resume and args.camera is not None:
        raise UsageError("--resume cannot apply to a camera: its frames are never the same twice")
    if args.show and args.headless:
        raise UsageError("--show and --headless contradict each other")
    if args.show and not display_available():
        raise UsageError("--show needs a display (DISPLAY or WAYLAND_DISPLAY is unset)")
    if args.show and args.jobs > 1:
        raise UsageError("--show shows images one after another; it cannot be combined with --jobs")
    _writable_file("--csv", args.csv, named)
    if not (args.engine == "ray" and args.output is not None and args.output.is_dir()):  # ray: a folder of shards
        _writable_file("--output", args.output, named)
    _writable_folder("--out", args.out)
    _writable_folder("--debug", args.debug)
    window = not args.headless and (streams or args.show) and display_available()
    if streams and not args.headless and not window:
        log.info("no display (DISPLAY and WAYLAND_DISPLAY are unset): running headless")
    outputs = OutputSettings(
        json=args.json, csv=args.csv, output=args.output, resume=args.resume, annotate_dir=args.out,
        debug_dir=args.debug, record=args.record, window=window, show_images=args.show,
        snapshot_dir=args.out or Path("."), changes_only=args.changes_only,
        progress=not (args.no_progress or args.quiet), verbose=args.verbose,
    )
    options = RecognizeOptions(
        segment=SegmentOptions(polarity=args.polarity, max_candidates=args.max_digits),
        split=SplitOptions(enabled=not args.no_split),
        min_confidence=args.min_confidence,
        drop_uncertain=args.drop_uncertain,
    )
    if args.fields is not None and streams:
        raise UsageError("--fields reads forms in images and documents, not in videos or camera frames")
    jobs, threads = args.jobs, args.threads
    if args.ray_address is None:  # this machine's processes (a cluster's actors run on its nodes' CPUs)
        jobs, threads = _within_cpus(jobs), _within_cpus(threads, "--threads")
    runtime = RuntimeSettings(args.model, args.backend, threads, args.string_model, not args.no_strings)
    return RunSettings(inputs=inputs, outputs=outputs, options=options, runtime=runtime, jobs=jobs,
                       ordered=not args.unordered, fields=args.fields, engine=args.engine,
                       ray_address=args.ray_address)


def _within_cpus(value: int, flag: str = "--jobs") -> int:
    """--jobs or --threads, each on its own, cut to the CPUs this process may use, with a note when it
    is: workers or threads beyond them only wait their turn, and each worker process holds its own
    interpreter and models (tens of MB), so ``-j 1000`` would exhaust memory rather than go faster."""
    from edge.runtime.settings import within_cpus

    used = within_cpus(value)
    if used < value:
        log.warning("%s %d: this process may use %d CPU(s); using %d", flag, value, used, used)
    return used


def _video_extensions() -> frozenset[str]:
    from edge.sources.streams import VIDEO_EXTENSIONS

    return VIDEO_EXTENSIONS


class UsageError(ValueError):
    """Flags that do not fit together (exit status 2)."""


def describe(recognizer) -> str:
    meta = recognizer.classifier.metadata
    accuracy = meta.provenance.get("accuracy", {})
    acc = accuracy.get("int8_tflite_accuracy") if meta.input.dtype != "float32" else accuracy.get("float_tflite_accuracy")
    figure = f", MNIST test accuracy {100 * acc:.2f}%" if isinstance(acc, (int, float)) else ""
    strings = f"string reader {recognizer.strings.path}" if recognizer.strings is not None else "no string reader"
    return (
        f"model {recognizer.classifier.path} ({meta.provenance.get('architecture', '?')}, "
        f"{meta.input.dtype} input{figure}); {strings}; backend {recognizer.classifier.backend}; "
        f"{recognizer.classifier.threads} thread(s)"
    )


def main(argv: list[str] | None = None) -> int:
    limit_blas_threads()  # before numpy loads
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.ERROR if args.quiet else (logging.INFO if args.verbose else logging.WARNING),
        format=f"{PROG}: %(message)s",
        stream=sys.stderr,
    )
    settings = None
    if not args.version:
        try:
            settings = settings_from_args(args)
        except UsageError as exc:
            log.error("error: %s", exc)
            return 2

    from edge.api import Reader
    from edge.apps import driver
    from edge.runtime.classifier import ModelError
    from edge.runtime.settings import RuntimeSettings
    from edge.sinks.outputs import OutputError

    if settings is not None and settings.fields is not None:
        from edge.pipeline.fields import FieldSpecError

        try:
            driver.load_form_once(settings)
        except FieldSpecError as exc:
            log.error("error: --fields %s: %s", settings.fields, exc)
            return 2
    try:
        if settings is None:
            reader = Reader.from_settings(driver.RunSettings(runtime=RuntimeSettings(
                args.model, args.backend, args.threads, args.string_model, not args.no_strings)))
        else:
            reader = Reader.from_settings(settings)
    except ModelError as exc:
        if args.version:
            print(f"{PROG} {__version__}; model not loaded: {exc}")
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if settings is None:
        print(f"{PROG} {__version__}; {describe(reader.recognizer)}")
        return 0
    log.info("%s", describe(reader.recognizer))
    if not args.verbose and settings.inputs.has_streams:
        from edge.sources.capture import quiet_ffmpeg

        quiet_ffmpeg()
    try:
        if settings.engine == "ray":
            from edge.apps import ray_engine

            return ray_engine.run(reader)
        return driver.run(reader)
    except driver.UsageError as exc:
        log.error("error: %s", exc)
        return 2
    except OutputError as exc:  # a full disk: what was read so far is written, the rest cannot be
        log.error("error: %s", exc)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. piped into head): stop quietly like other command-line tools.
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
