"""Frames per second of the live loop (``--video``/``--camera``) on 640x480 frames with 5 digits.

    python -m benchmarks.live_fps                 # Markdown table on stdout
    python -m benchmarks.live_fps --frames 300 --repeats 7 --json
    python -m benchmarks.live_fps --clip card-video   # an index card moving over a desk instead

A video of a moving, noisy page with one 5-digit number (MNIST test digits) is written to a temporary
MJPG file, then read by the real loop (``edge.apps.driver.run``, what ``digits-recognize VIDEO --json``
runs: video source, recogniser with one interpreter thread, stabiliser, layout, JSON Lines output)
headless, as over SSH. Reported, as medians over repetitions: processed frames per second (wall
clock), CPU time per frame (which load from other programs disturbs least), where each frame's time
went (the stage timings of the same runs' readings), what the loop adds to them, and how many frames
were read right.

A second clip, ``card-video`` (``trainer.synth.documents.card_video``, benchmark seed 1000), shows
what a webcam really sees: an index card with a number or two moving and turning over a desk, its
edges and corners in view; a frame is read right when its numbers are the card's, nothing added.

The Raspberry Pi 4 figures are estimates: the one-core rate divided by the range
``benchmarks.run.PI4_RATIO`` (its comment gives the sources).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from edge.api import Reader
from edge.apps.driver import InputSettings, OutputSettings, RunSettings, run
from edge.pipeline.recognizer import Recognizer

from .common import load_test_digits, machine, recognizer as recognizer_for_benchmarks
from trainer.synth.documents import BENCHMARK_FIRST_SEED, card_video
from trainer.synth.pages import DigitBank
from .run import PI4_RATIO

SIZE = (640, 480)
FPS = 30.0


def moving_page_frames(bank: DigitBank, n: int, seed: int = 0, digits: int = 5) -> tuple[list[np.ndarray], str]:
    """A hand-held camera over grey paper with one number: sway, shake and sensor noise."""
    rng = np.random.default_rng(seed)
    value = "".join(str(int(v)) for v in rng.integers(0, 10, digits))
    page_h, page_w = SIZE[1] + 160, SIZE[0] + 200
    ink = np.zeros((page_h, page_w), np.float32)
    height = int(SIZE[1] * 0.22)  # a number held at arm's length fills about a fifth of the frame height
    x, y = 100 + int(SIZE[0] * 0.1), 80 + int(SIZE[1] * 0.4)
    for char in value:
        glyph = bank.sample(int(char), rng)
        glyph = cv2.resize(glyph, (max(1, round(glyph.shape[1] * height / glyph.shape[0])), height))
        region = ink[y : y + height, x : x + glyph.shape[1]]
        np.maximum(region, glyph / 255.0, out=region)
        x += glyph.shape[1] + int(height * 0.15)
    page = 205 * (1 - ink[..., None]) + 40 * ink[..., None] + np.zeros((1, 1, 3), np.float32)
    frames = []
    for k in range(n):
        dx = int(100 + 40 * np.sin(2 * np.pi * k / 90) + rng.integers(-3, 4))
        dy = int(80 + 30 * np.cos(2 * np.pi * k / 120) + rng.integers(-3, 4))
        view = page[dy : dy + SIZE[1], dx : dx + SIZE[0]] + rng.normal(0, 3, (SIZE[1], SIZE[0], 3))
        frames.append(np.clip(view, 0, 255).astype(np.uint8))
    return frames, value


def write_video(path: Path, frames: list[np.ndarray]) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    if not writer.isOpened():
        raise SystemExit(f"cannot write {path} (MJPG)")
    for frame in frames:
        writer.write(frame)
    writer.release()


def card_frames(bank: DigitBank, n: int, seed: int = BENCHMARK_FIRST_SEED) -> tuple[list[np.ndarray], list[str]]:
    """An index card moving over a desk (``documents.card_video``): frames and its numbers in reading order."""
    documents = card_video(bank, seed, n, size=(SIZE[1], SIZE[0]))
    return [d.image for d in documents], [number for line in documents[0].lines for number in line]


CLIPS = {"moving-page": "a moving page with 5 MNIST digits", "card-video": "an index card moving over a desk"}


class _TimedReader(Reader):
    """The command line's reader, adding up each read frame's stage timings as the loop goes."""

    def steps(self, item, **loop):
        for step in super().steps(item, **loop):
            if step.result is not None and step.reading is not None:
                self.frames += 1
                for stage, ms in step.reading.timings.items():
                    self.stage_ms[stage] = self.stage_ms.get(stage, 0.0) + ms
            yield step


def time_loop(recognizer: Recognizer, video: Path, expected: list[str]) -> dict:
    """One headless run of the reading loop over the video, JSON Lines into memory."""
    settings = RunSettings(inputs=InputSettings(videos=(video,)),
                           outputs=OutputSettings(json=True, progress=False), options=recognizer.options)
    reader = _TimedReader.from_settings(settings, recognizer)
    reader.frames, reader.stage_ms = 0, {}
    stream = io.StringIO()
    cpu, wall = time.process_time(), time.perf_counter()
    status = run(reader, stdout=stream)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    failed = [r["error"] for r in records if "error" in r]
    if status != 0 or failed:
        raise SystemExit(f"the live loop failed on {video}: {failed[0] if failed else f'exit status {status}'}")
    frames = max(1, reader.frames)
    return {
        "fps": reader.frames / wall,
        "stages": {stage: ms / frames for stage, ms in reader.stage_ms.items()},
        "loop_ms": 1000 * wall / frames,
        "cpu_ms": 1000 * cpu / frames,  # every thread of the process, decoding included
        "right": sum(r["numbers"] == expected for r in records) / max(1, len(records)),
        "frames": reader.frames,
    }


def measure(frames_n: int, repeats: int, data: str | None, clip: str = "moving-page") -> dict:
    cv2.setNumThreads(1)  # as the CLI's default --threads 1 sets it
    digits, labels = load_test_digits(data)
    bank = DigitBank(digits, labels)
    if clip == "card-video":
        frames, expected = card_frames(bank, frames_n)
    else:
        frames, value = moving_page_frames(bank, frames_n)
        expected = [value]
    recognizer = recognizer_for_benchmarks(threads=1)
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / f"{clip}.avi"
        write_video(video, frames)
        time_loop(recognizer, video, expected)  # warm up: caches, allocation, first interpreter calls
        runs = [time_loop(recognizer, video, expected) for _ in range(repeats)]
    stages = {k: statistics.median(r["stages"].get(k, 0.0) for r in runs) for k in runs[0]["stages"]}
    return {
        "clip": clip,
        "machine": machine(),
        "backend": str(recognizer.classifier.backend),
        "frames": frames_n,
        "repeats": repeats,
        "fps": statistics.median(r["fps"] for r in runs),
        "fps_range": (min(r["fps"] for r in runs), max(r["fps"] for r in runs)),
        "load": _load(),
        "loop_ms": statistics.median(r["loop_ms"] for r in runs),
        "cpu_ms": statistics.median(r["cpu_ms"] for r in runs),
        "stages": stages,
        "right": statistics.median(r["right"] for r in runs),
        "pi4_ratio": PI4_RATIO,
    }


def _load() -> str:
    """The load average while measuring: other work on the machine slows every figure alike."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def clips_markdown(results: list[dict]) -> str:
    """The clips side by side: rate and frames read right."""
    lines = ["| clip | frames | frames per second (wall clock) | CPU ms per frame | frames read right |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r.get('clip', 'moving-page')}: {CLIPS[r.get('clip', 'moving-page')]} | {r['frames']} | "
                     f"{r['fps']:.0f} | {r['cpu_ms']:.2f} | {100 * r['right']:.0f}% |")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    lo, hi = result["pi4_ratio"]
    fps = result["fps"]
    # CPU time is what other work on the machine disturbs least: the rate one core would give.
    one_core = 1000 / result["cpu_ms"] if result["cpu_ms"] else 0.0
    stages = result["stages"]
    loop_stages = ("stabilise", "layout")  # what the loop does with a reading, beside recognising
    recognise = sum(v for k, v in stages.items() if k not in loop_stages)
    added = result["loop_ms"] - recognise
    low, high = result["fps_range"]
    share = 100 * added / result["loop_ms"] if result["loop_ms"] else 0.0
    lines = [
        f"Live loop, headless with JSON Lines output, on a {SIZE[0]}x{SIZE[1]} MJPG video of "
        f"{CLIPS[result.get('clip', 'moving-page')]} ({result['frames']} frames); one interpreter thread ({result['backend']}); "
        f"median of {result['repeats']} runs on {result['machine']} (load average {result['load']}).",
        "",
        "| figure | value |",
        "| --- | ---: |",
        f"| frames per second, live loop (wall clock; range over runs) | **{fps:.0f}** ({low:.0f}-{high:.0f}) |",
        f"| CPU ms per frame, all threads (decoding included) / frames per second on one core | "
        f"{result['cpu_ms']:.2f} / **{one_core:.0f}** |",
        f"| ms per frame: recogniser stages / whole loop | {recognise:.2f} / {result['loop_ms']:.2f} |",
        f"| what the loop adds (decoding, stabilise, layout, output, glue) | {added:.2f} ms ({share:.0f}%) |",
        f"| frames read right (stabilised) | {100 * result['right']:.0f}% |",
        f"| Raspberry Pi 4, one core, estimated (one-core rate / {lo:.0f} to {hi:.0f}, `PI4_RATIO`) | "
        f"{one_core / hi:.1f}-{one_core / lo:.0f} |",
        "",
        "Where a frame's time goes (ms per read frame):",
        "",
        "| stage | ms |",
        "| --- | ---: |",
    ]
    for stage, ms in stages.items():
        lines.append(f"| {'loop' if stage in loop_stages else 'recognise'}: {stage} | {ms:.2f} |")
    lines.append(f"| **total, wall clock** | **{result['loop_ms']:.2f}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="frames in the test video (default 150)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the median is reported (default 5)")
    parser.add_argument("--data", help="MNIST folder (default: $MNIST_DATA or ../shared/mnist)")
    parser.add_argument("--clip", choices=sorted(CLIPS), default="moving-page",
                        help="the video: a moving page (default) or an index card over a desk")
    parser.add_argument("--json", action="store_true", help="the figures as one JSON object instead")
    args = parser.parse_args(argv)
    result = measure(args.frames, args.repeats, args.data, args.clip)
    print(json.dumps(result) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
