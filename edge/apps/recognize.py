"""Read handwritten digits in images, folders and globs (and, with --camera/--video, live).

    python edge/recognize.py scans/ --recursive --json > readings.jsonl
    digits-recognize photo.jpg --out annotated/ --csv digits.csv
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from edge import __version__

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


def build_parser() -> argparse.ArgumentParser:
    from edge.sources.images import DEFAULT_MAX_PIXELS
    from edge.pipeline.segment import POLARITIES, SegmentOptions

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read handwritten digits and numbers in images with an int8 TFLite model.",
        epilog="Exit status: 0 every input was read, 1 some input failed, 2 usage or model error.",
    )
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help="image file, folder or glob pattern")
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
    reading.add_argument("--max-digits", type=positive_int, default=SegmentOptions.max_candidates,
                         help=f"most candidates read from one image (default {SegmentOptions.max_candidates})")
    reading.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                         help=f"refuse images larger than this (default {DEFAULT_MAX_PIXELS:,})")

    files = parser.add_argument_group("inputs and outputs")
    files.add_argument("-r", "--recursive", action="store_true", help="read folders recursively")
    files.add_argument("--json", action="store_true", help="JSON Lines on stdout, one object per image")
    files.add_argument("--csv", type=Path, metavar="FILE", help="also write a CSV table, one row per digit")
    files.add_argument("--out", type=Path, metavar="DIR", help="write an annotated copy of each image here")
    files.add_argument("--debug", type=Path, metavar="DIR",
                       help="write intermediate images (ink, mask, candidates, 28x28 crops) here")
    files.add_argument("-o", "--output", type=Path, metavar="FILE",
                       help="also write JSON Lines results to FILE, one flushed line per image (see --resume)")
    files.add_argument("--resume", action="store_true",
                       help="with --output: skip inputs that already have a result there and append")
    files.add_argument("-j", "--jobs", type=positive_int, default=1, metavar="N",
                       help="read images in N worker processes (default 1)")
    files.add_argument("--unordered", action="store_true",
                       help="with --jobs: write results as they finish instead of in input order")
    files.add_argument("--no-progress", action="store_true", help="no progress bar")

    live = parser.add_argument_group("live mode (camera or video)")
    live.add_argument("--camera", nargs="?", const="0", metavar="INDEX",
                      help="read a webcam (OpenCV index, default 0) or 'picamera' (Raspberry Pi camera via Picamera2)")
    live.add_argument("--video", type=Path, metavar="FILE", help="read a video file through the live loop")
    live.add_argument("--width", type=positive_int, help="requested capture width (camera)")
    live.add_argument("--height", type=positive_int, help="requested capture height (camera)")
    live.add_argument("--fps", type=positive_int, help="requested capture frame rate (camera)")
    live.add_argument("--headless", action="store_true", help="no window (automatic when there is no display)")
    live.add_argument("--changes-only", action="store_true", help="with --json: only frames whose reading changed")
    live.add_argument("--roi", metavar="X,Y,W,H", help="only read this region of each frame")
    live.add_argument("--every", type=positive_int, default=1, metavar="N", help="process every Nth frame")
    live.add_argument("--record", type=Path, metavar="FILE", help="write the annotated stream to a video file")

    parser.add_argument("-v", "--verbose", action="store_true", help="backend, model and timings on stderr")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr")
    return parser


def make_recognizer(args: argparse.Namespace):
    from edge.pipeline.recognizer import RecognizeOptions, build_recognizer
    from edge.pipeline.segment import SegmentOptions

    options = RecognizeOptions(
        segment=SegmentOptions(polarity=args.polarity, max_candidates=args.max_digits),
        min_confidence=args.min_confidence,
        drop_uncertain=args.drop_uncertain,
        split_touching=not args.no_split,
    )
    return build_recognizer(args.model, args.backend, args.threads, options)


def describe(recognizer) -> str:
    meta = recognizer.classifier.metadata
    accuracy = meta.provenance.get("accuracy", {})
    acc = accuracy.get("int8_tflite_accuracy") if meta.input.dtype != "float32" else accuracy.get("float_tflite_accuracy")
    figure = f", MNIST test accuracy {100 * acc:.2f}%" if isinstance(acc, (int, float)) else ""
    return (
        f"model {recognizer.classifier.path} ({meta.provenance.get('architecture', '?')}, "
        f"{meta.input.dtype} input{figure}); backend {recognizer.classifier.backend}; "
        f"{recognizer.classifier.threads} thread(s)"
    )


class StopOnSignal:
    """SIGINT/SIGTERM ask the batch to stop after the current image; a second Ctrl+C stops at once."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.listeners: list = []
        self._previous = {}

    def __enter__(self) -> "StopOnSignal":
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, _frame) -> None:
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        log.warning("%s received: finishing the current image, then stopping", self.signal_name)
        for listener in self.listeners:
            listener()

    @property
    def stopped(self) -> bool:
        return self.signal_name is not None

    @property
    def exit_code(self) -> int:
        return 128 + int(getattr(signal, self.signal_name or "SIGINT"))


def run_files(args: argparse.Namespace, recognizer) -> int:
    from functools import partial

    from tqdm import tqdm

    from edge.apps.batch import FileOptions, read_file
    from edge.pipeline.recognizer import build_recognizer
    from edge.sinks.resultlog import finished_csv_sources, finished_sources
    from edge.sinks.outputs import Sinks
    from edge.sources.files import expand_sources
    from edge.apps.workers import WorkerPool

    for folder in (args.out, args.debug):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    options = FileOptions(max_pixels=args.max_pixels, annotate_dir=args.out, debug_dir=args.debug)
    done: set[str] = set()
    if args.resume:
        done = finished_sources(args.output)
        if args.csv is not None:
            done &= finished_csv_sources(args.csv)
        log.info("resuming: %d input(s) already have a result in %s", len(done), args.output)
    sources = (s for s in expand_sources(args.sources, args.recursive) if s.name not in done)
    read = failed = 0
    pool = None
    with Sinks(args.json, args.csv, args.output, append=args.resume) as sinks, StopOnSignal() as stop:
        if args.jobs > 1:
            factory = partial(build_recognizer, recognizer.classifier.path, args.backend, args.threads,
                              recognizer.options)
            pool = WorkerPool(args.jobs, factory, options)
            stop.listeners.append(pool.request_stop)
            outcomes = pool.run(sources, ordered=not args.unordered)
        else:
            outcomes = (read_file(s, recognizer, options) for s in sources if not stop.stopped)
        progress = tqdm(desc="images", unit="img", file=sys.stderr, delay=2.0, leave=False,
                        disable=args.no_progress or args.quiet or None)
        try:
            for outcome in outcomes:
                with progress.external_write_mode():
                    sinks.emit(outcome)
                read += 1
                failed += not outcome.ok
                progress.update()
                if args.verbose and outcome.ok:
                    timings = ", ".join(f"{k} {v:.1f} ms" for k, v in outcome.reading.timings.items())
                    log.info("%s: %d digits in %.1f ms (%s)", outcome.source, len(outcome.reading.digits),
                             outcome.record["ms"], timings)
        finally:
            progress.close()
            if pool is not None:
                pool.close()
    summary = f"{read - failed} image(s) read, {failed} failed"
    if stop.stopped:
        hint = f"; continue with --resume --output {args.output}" if args.output else ""
        print(f"{PROG}: stopped by {stop.signal_name}: {summary}{hint}", file=sys.stderr)
        return stop.exit_code
    if read > 1 or failed:
        log.info("%s", summary)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.ERROR if args.quiet else (logging.INFO if args.verbose else logging.WARNING),
        format=f"{PROG}: %(message)s",
        stream=sys.stderr,
    )
    if args.resume and args.output is None:
        parser.error("--resume needs --output FILE (the results to continue from)")
    if args.min_confidence == 0 and args.drop_uncertain:
        parser.error("--drop-uncertain needs --min-confidence")
    live = args.camera is not None or args.video is not None
    if live and args.sources:
        parser.error("give image SOURCEs or --camera/--video, not both")
    if args.camera is not None and args.video is not None:
        parser.error("--camera and --video cannot be combined")
    if not args.sources and not args.version and not live:
        parser.error("give at least one SOURCE (an image, a folder or a glob), or --camera / --video")

    import cv2

    from edge.runtime.classifier import ModelError

    # OpenCV's thread pool costs more than it gains on images of this size (measured: a 640x480
    # frame takes 10% longer and twice the CPU time with two threads than with one).
    cv2.setNumThreads(args.threads)
    try:
        recognizer = make_recognizer(args)
    except ModelError as exc:
        if args.version:
            print(f"{PROG} {__version__}; model not loaded: {exc}")
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if args.version:
        print(f"{PROG} {__version__}; {describe(recognizer)}")
        return 0
    log.info("%s", describe(recognizer))
    try:
        if live:
            from edge.apps.live import run_live

            return run_live(args, recognizer)
        return run_files(args, recognizer)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. piped into head): stop quietly like other command-line tools.
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
