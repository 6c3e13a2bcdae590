"""Command line for the whole workstation path: train, evaluate, convert, or all three (``build``).

    python -m trainer build --data ../shared/mnist --out runs/edge --install models
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import shutil
import sys
from pathlib import Path

from edge import __version__

log = logging.getLogger("trainer")

DEFAULT_NAME = "digits"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digits-train",
        description="Train, evaluate and convert the handwritten digit model (MNIST -> int8 .tflite).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data",
            metavar="PATH",
            help="folder of MNIST IDX files (gzipped or not) or an mnist.npz; "
            "default: $MNIST_DATA, else Keras' download",
        )

    def train_flags(p: argparse.ArgumentParser) -> None:
        from .architectures import DEFAULT_ARCH, RECIPES

        p.add_argument("--arch", choices=sorted(RECIPES), default=DEFAULT_ARCH,
                       help=f"architecture (default {DEFAULT_ARCH}; 'seed' is the tutorial's CNN)")
        p.add_argument("--epochs", type=int, help="epochs (default: the architecture's recipe)")
        p.add_argument("--batch-size", type=int, help="batch size (default: the recipe's)")
        p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        p.add_argument("--val-size", type=int, default=5000,
                       help="training images held out for validation (default 5000)")
        p.add_argument("--limit", type=int, help="train on the first N training images only (smoke runs)")

    def convert_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", default=DEFAULT_NAME, help=f"file name stem (default {DEFAULT_NAME})")
        p.add_argument("--io-type", choices=("int8", "uint8"), default="int8",
                       help="input/output type of the quantised model (default int8)")
        p.add_argument("--calibration-size", type=int, default=1000,
                       help="training images used to calibrate int8 ranges (default 1000)")
        p.add_argument("--max-drop", type=float, default=0.1,
                       help="fail if int8 accuracy is more than this many points below float (default 0.1)")
        p.add_argument("--backend", help="interpreter used to verify the .tflite files (default: auto)")

    p_train = sub.add_parser("train", help="train a Keras model")
    data_flag(p_train)
    train_flags(p_train)
    p_train.add_argument("--out", type=Path, required=True, help="output folder")

    p_eval = sub.add_parser("evaluate", help="evaluate .keras or .tflite models on the MNIST test set")
    data_flag(p_eval)
    p_eval.add_argument("models", nargs="+", type=Path, metavar="MODEL")
    p_eval.add_argument("--out", type=Path, required=True, help="folder for reports and figures")
    p_eval.add_argument("--backend", help="interpreter for .tflite files (default: auto)")

    p_conv = sub.add_parser("convert", help="convert a .keras model to float and int8 .tflite, verified")
    data_flag(p_conv)
    p_conv.add_argument("model", type=Path, metavar="MODEL.keras")
    p_conv.add_argument("--out", type=Path, required=True, help="output folder")
    convert_flags(p_conv)

    p_build = sub.add_parser("build", help="train, evaluate and convert in one go")
    data_flag(p_build)
    train_flags(p_build)
    convert_flags(p_build)
    p_build.add_argument("--out", type=Path, required=True, help="output folder for the run")
    p_build.add_argument("--install", type=Path, metavar="DIR",
                         help="also copy the .tflite files, their metadata and the report here (e.g. models)")

    p_install = sub.add_parser("install", help="copy a finished run's models, metadata and report into a folder")
    p_install.add_argument("run", type=Path, metavar="RUN", help="output folder of a build")
    p_install.add_argument("--to", type=Path, default=Path("models"), metavar="DIR", help="default: models")
    p_install.add_argument("--name", default=DEFAULT_NAME, help=f"file name stem (default {DEFAULT_NAME})")

    from .strings import add_parser as add_strings_parser  # the string reader (issue 13)

    add_strings_parser(sub, data_flag)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.quiet else "%(message)s",
        stream=sys.stderr,
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edge.runtime.classifier import ModelError

    from .conversion import ConversionError
    from .data import DataError

    try:
        return _COMMANDS[args.command](args)
    except (DataError, ConversionError, ModelError) as exc:
        print(f"digits-train: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("digits-train: interrupted", file=sys.stderr)
        return 130


def _load_data(args):
    from .data import load_mnist

    data = load_mnist(args.data)
    log.info("MNIST from %s: %d train, %d test images", data.source, len(data.x_train), len(data.x_test))
    return data


def _cmd_train(args) -> int:
    data = _load_data(args)
    _train_and_save(args, data, args.out)
    return 0


def _train_and_save(args, data, out: Path) -> Path:
    from .architectures import RECIPES, count_macs
    from .plots import save_history_png
    from .training import train

    out.mkdir(parents=True, exist_ok=True)
    result = train(
        data, args.arch, epochs=args.epochs, seed=args.seed, val_size=args.val_size,
        limit=args.limit, batch_size=args.batch_size,
    )
    model_path = out / "model.keras"
    result.model.save(model_path)
    import keras
    import tensorflow as tf

    record = {
        "architecture": result.arch,
        "description": RECIPES[result.arch].description,
        "parameters": int(result.model.count_params()),
        "macs_per_digit": count_macs(result.model),
        "epochs": result.epochs,
        "batch_size": args.batch_size or RECIPES[result.arch].batch_size,
        "seed": result.seed,
        "train_images": result.train_size,
        "validation_images": result.val_size,
        "data_source": data.source,
        "data_sha256": data.sha256,
        "training_seconds": round(result.seconds, 1),
        "cpu_count": os.cpu_count(),
        "trainer_version": __version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "python_version": platform.python_version(),
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "history": result.history,
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    save_history_png(result.history, out / "training.png")
    log.info("trained in %.0f s; saved %s", result.seconds, model_path)
    return model_path


def _evaluate_tflite(path: Path, data, backend: str | None):
    from edge.runtime.classifier import DigitClassifier

    from .evaluation import evaluate_probabilities

    classifier = DigitClassifier(path, backend=backend)
    probs = classifier.predict(data.x_test)
    return evaluate_probabilities(path.name, probs, data.y_test), classifier.backend


def _evaluate_keras(path_or_model, data, name: str):
    import keras

    from .evaluation import evaluate_probabilities
    from .training import to_model_input

    model = keras.models.load_model(path_or_model) if isinstance(path_or_model, Path) else path_or_model
    probs = model.predict(to_model_input(data.x_test), batch_size=500, verbose=0)
    return evaluate_probabilities(name, probs, data.y_test)


def _write_evaluation(ev, data, folder: Path, stem: str) -> None:
    from .evaluation import confusion_text
    from .plots import save_confusion_png, save_misclassified_png

    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(ev.summary(), indent=2) + "\n")
    text = confusion_text(ev)
    (folder / f"{stem}.confusion.txt").write_text(text)
    save_confusion_png(ev, folder / f"{stem}.confusion.png")
    save_misclassified_png(ev, data.x_test, data.y_test, folder / f"{stem}.misclassified.png")
    log.info("%s", text.rstrip())


def _cmd_evaluate(args) -> int:
    data = _load_data(args)
    for path in args.models:
        if path.suffix == ".tflite":
            ev, backend = _evaluate_tflite(path, data, args.backend)
            log.info("(%s through %s)", path.name, backend)
        elif path.suffix in (".keras", ".h5"):
            ev = _evaluate_keras(path, data, path.name)
        else:
            print(f"digits-train: error: {path}: expected a .keras, .h5 or .tflite model", file=sys.stderr)
            return 2
        _write_evaluation(ev, data, args.out, path.stem)
    return 0


def _convert(args, data, keras_path: Path, out: Path) -> dict:
    """Float and int8 conversion, each evaluated through a TFLite interpreter; returns the summary."""
    import keras

    from .conversion import (
        ConversionError,
        build_metadata,
        calibration_sample,
        to_float_tflite,
        to_int8_tflite,
        training_stroke_width,
        write_model,
    )
    from .evaluation import agreement
    from edge.runtime.metadata import write_metadata

    out.mkdir(parents=True, exist_ok=True)
    model = keras.models.load_model(keras_path)
    record_path = keras_path.with_name("training.json")
    provenance = json.loads(record_path.read_text()) if record_path.is_file() else {}
    provenance.pop("history", None)
    stroke = training_stroke_width(data.x_train)

    keras_ev = _evaluate_keras(model, data, keras_path.name)
    _write_evaluation(keras_ev, data, out / "evaluation", "keras")
    calibration = calibration_sample(data.x_train, data.y_train, args.calibration_size, seed=0)
    blobs = {
        "float": to_float_tflite(model),
        "int8": to_int8_tflite(model, calibration, io_type=args.io_type),
    }
    evaluations, paths = {}, {}
    for kind, blob in blobs.items():
        path = out / f"{args.name}_{kind}.tflite"
        write_model(blob, path)
        write_metadata(build_metadata(path, provenance, stroke), path.with_suffix(".json"))
        ev, backend = _evaluate_tflite(path, data, args.backend)
        _write_evaluation(ev, data, out / "evaluation", kind)
        evaluations[kind], paths[kind] = ev, path

    float_acc, int8_acc = evaluations["float"].accuracy, evaluations["int8"].accuracy
    summary = {
        "keras_accuracy": keras_ev.accuracy,
        "float_tflite_accuracy": float_acc,
        "int8_tflite_accuracy": int8_acc,
        "int8_float_agreement": agreement(evaluations["int8"].predictions, evaluations["float"].predictions),
        "float_tflite_bytes": paths["float"].stat().st_size,
        "int8_tflite_bytes": paths["int8"].stat().st_size,
        "int8_io_type": args.io_type,
        "calibration_images": len(calibration),
        "verified_with": str(backend),
        "test_images": len(data.y_test),
    }
    accuracy = {k: round(v, 6) for k, v in summary.items() if k.endswith("accuracy") or k.endswith("agreement")}
    for kind, path in paths.items():
        meta_provenance = dict(provenance, converted_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                               quantization="full-integer int8" if kind == "int8" else "none (float32)",
                               accuracy=accuracy, model_bytes=path.stat().st_size)
        write_metadata(build_metadata(path, meta_provenance, stroke), path.with_suffix(".json"))
    (out / "conversion.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "REPORT.md").write_text(_report_markdown(provenance, summary, evaluations, keras_ev))
    log.info(
        "float %.2f%% (%d bytes), int8 %.2f%% (%d bytes), agreement %.2f%%",
        100 * float_acc, summary["float_tflite_bytes"], 100 * int8_acc, summary["int8_tflite_bytes"],
        100 * summary["int8_float_agreement"],
    )
    drop = 100 * (float_acc - int8_acc)
    if drop > args.max_drop:
        raise ConversionError(
            f"int8 accuracy {100 * int8_acc:.2f}% is {drop:.2f} points below float {100 * float_acc:.2f}% "
            f"(limit {args.max_drop}); the quantised model was not accepted"
        )
    return summary


def _report_markdown(provenance: dict, summary: dict, evaluations: dict, keras_ev) -> str:
    rows = [
        ("Keras (float32)", keras_ev, "-"),
        ("TFLite float32", evaluations["float"], f"{summary['float_tflite_bytes'] / 1024:.1f} KB"),
        (f"TFLite full-integer ({summary['int8_io_type']} I/O)", evaluations["int8"],
         f"{summary['int8_tflite_bytes'] / 1024:.1f} KB"),
    ]
    lines = [
        f"# Model report: {provenance.get('architecture', '?')}",
        "",
        f"{provenance.get('description', '')}",
        "",
        f"- parameters: {provenance.get('parameters', '?')}, multiply-accumulates per digit: "
        f"{provenance.get('macs_per_digit', '?')}",
        f"- trained {provenance.get('epochs', '?')} epochs on {provenance.get('train_images', '?')} images "
        f"({provenance.get('validation_images', '?')} held out), seed {provenance.get('seed', '?')}, "
        f"in {provenance.get('training_seconds', '?')} s on {provenance.get('cpu_count', '?')} CPU cores",
        f"- data sha256 {provenance.get('data_sha256', '?')}",
        f"- verified with {summary['verified_with']} on {summary['test_images']} MNIST test images",
        "",
        "| model | test accuracy | errors | loss | size |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, ev, size in rows:
        lines.append(f"| {label} | {100 * ev.accuracy:.2f}% | {ev.errors} | {ev.loss:.4f} | {size} |")
    lines += [
        "",
        f"int8 predictions agree with float on {100 * summary['int8_float_agreement']:.2f}% of test digits.",
        "",
        "Per-class accuracy of the int8 model (%): "
        + ", ".join(f"{d}: {100 * a:.2f}" for d, a in enumerate(evaluations["int8"].per_class)),
        "",
        "Figures: `evaluation/int8.confusion.png`, `evaluation/int8.misclassified.png`, `training.png`.",
        "",
    ]
    return "\n".join(lines)


def _cmd_convert(args) -> int:
    data = _load_data(args)
    _convert(args, data, args.model, args.out)
    return 0


def _cmd_build(args) -> int:
    data = _load_data(args)
    keras_path = _train_and_save(args, data, args.out)
    _convert(args, data, keras_path, args.out)
    if args.install:
        _install(args.out, args.name, args.install)
    return 0


def _cmd_install(args) -> int:
    from edge.runtime.classifier import DigitClassifier

    for kind in ("int8", "float"):
        DigitClassifier(args.run / f"{args.name}_{kind}.tflite")  # refuse a half-written or mismatched run
    _install(args.run, args.name, args.to)
    return 0


def _install(run: Path, name: str, dest: Path) -> None:
    """Copy the shippable files of a run: both .tflite models, their JSON, the report and figures."""
    report = dest / "report"
    report.mkdir(parents=True, exist_ok=True)
    for kind in ("int8", "float"):
        for suffix in (".tflite", ".json"):
            shutil.copy2(run / f"{name}_{kind}{suffix}", dest / f"{name}_{kind}{suffix}")
    for item in ("REPORT.md", "training.png", "training.json", "conversion.json"):
        shutil.copy2(run / item, report / item)
    for item in sorted((run / "evaluation").iterdir()):
        shutil.copy2(item, report / item.name)
    log.info("installed %s_int8.tflite and %s_float.tflite into %s", name, name, dest)


def _cmd_strings(args) -> int:
    from .strings import run

    return run(args, _load_data(args))


_COMMANDS = {
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "convert": _cmd_convert,
    "build": _cmd_build,
    "install": _cmd_install,
    "strings": _cmd_strings,
}
