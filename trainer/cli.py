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
        p.add_argument("--negatives", type=float, metavar="R",
                       help="not-a-digit examples per training digit each epoch (default: the recipe's, "
                       "0.3 for ours, 0 for 'seed'; 0 trains ten digit classes only)")
        p.add_argument("--negatives-pool", type=int, default=None, metavar="N",
                       help="negatives drawn per kind for the whole run (default 8000)")

    def convert_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", default=DEFAULT_NAME, help=f"file name stem (default {DEFAULT_NAME})")
        p.add_argument("--io-type", choices=("int8", "uint8"), default="int8",
                       help="input/output type of the quantised model (default int8)")
        p.add_argument("--calibration-size", type=int, default=1000,
                       help="training images used to calibrate int8 ranges (default 1000)")
        p.add_argument("--max-drop", type=float, default=0.1,
                       help="fail if int8 accuracy is more than this many points below float (default 0.1)")
        p.add_argument("--backend", help="interpreter used to verify the .tflite files (default: auto)")
        held_out_flag(p)

    def held_out_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--held-out-negatives", type=int, default=1000, metavar="N",
                       help="held-out not-a-digit examples per kind to measure reject rates on (default 1000)")

    p_train = sub.add_parser("train", help="train a Keras model")
    data_flag(p_train)
    train_flags(p_train)
    p_train.add_argument("--out", type=Path, required=True, help="output folder")

    p_eval = sub.add_parser("evaluate", help="evaluate .keras or .tflite models on the MNIST test set")
    data_flag(p_eval)
    p_eval.add_argument("models", nargs="+", type=Path, metavar="MODEL")
    p_eval.add_argument("--out", type=Path, required=True, help="folder for reports and figures")
    p_eval.add_argument("--backend", help="interpreter for .tflite files (default: auto)")
    held_out_flag(p_eval)

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
    from dataclasses import asdict

    from .architectures import RECIPES, count_macs
    from .plots import save_history_png
    from .training import NEGATIVE_POOL_PER_KIND, train

    out.mkdir(parents=True, exist_ok=True)
    result = train(
        data, args.arch, epochs=args.epochs, seed=args.seed, val_size=args.val_size,
        limit=args.limit, batch_size=args.batch_size, negatives=args.negatives,
        pool_per_kind=args.negatives_pool or NEGATIVE_POOL_PER_KIND,
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
        "labels": list(result.labels),
        "reject_label": result.reject_label,
        "negatives": result.negatives,
        # The input the model was trained on (the converter writes it into the metadata).
        "input": asdict(result.spec),
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


def _keras_probs(model, images, spec):
    from .training import keras_input

    return model.predict(keras_input(images, spec), batch_size=500, verbose=0)


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


def _score(name: str, probs, held, data, labels, folder: Path | None = None, stem: str = ""):
    """MNIST test, the edge's view of it, and held-out negatives, for one model's probabilities
    (``probs``: a dict of "test", "edge" and "negatives" arrays)."""
    from .evaluation import evaluate_negatives, evaluate_probabilities

    ev = evaluate_probabilities(name, probs["test"], data.y_test, labels)
    edge = evaluate_probabilities(name + " (edge view)", probs["edge"], data.y_test, labels)
    neg = None
    if held.negatives is not None and "negatives" in probs:
        neg = evaluate_negatives(name, probs["negatives"], held.negatives.kinds, held.negatives.names, ev.reject_index)
    if folder is not None:
        _write_evaluation(ev, data, folder, stem)
        (folder / f"{stem}.edge-view.json").write_text(json.dumps(edge.summary(), indent=2) + "\n")
        if neg is not None:
            (folder / f"{stem}.negatives.json").write_text(json.dumps(neg.summary(), indent=2) + "\n")
            log.info("%s rejects held-out negatives: %s", name,
                     ", ".join(f"{k} {100 * r:.1f}%" for k, r in zip(neg.kinds, neg.rejected)))
    return ev, edge, neg


def _model_probs(predict, held) -> dict:
    probs = {"edge": predict(held.edge_digits)}
    if held.negatives is not None:
        probs["negatives"] = predict(held.negatives.images)
    return probs


def _contract(provenance: dict, outputs: int, data):
    """The input spec, labels and reject label a model was trained with: from its training record,
    else (a .keras from elsewhere) MNIST's input and labels told by the output count."""
    import dataclasses

    from edge.runtime.metadata import REJECT_LABEL, InputSpec

    from .data import MNIST_INPUT, training_stroke_width
    from .evaluation import labels_for_outputs

    if "input" in provenance:
        raw = dict(provenance["input"], quantization=None)
        spec = InputSpec(**raw)
    else:
        spec = dataclasses.replace(MNIST_INPUT, stroke_width=training_stroke_width(data.x_train))
    from .conversion import ConversionError

    if provenance.get("labels"):
        labels = tuple(provenance["labels"])
        reject = labels.index(REJECT_LABEL) if REJECT_LABEL in labels else None
    else:
        try:
            labels, reject = labels_for_outputs(outputs)
        except ValueError as exc:
            raise ConversionError(str(exc)) from None
    if len(labels) != outputs:
        raise ConversionError(f"the model has {outputs} outputs but its training record lists {len(labels)} labels")
    reject_label = provenance.get("reject_label", labels[reject] if reject is not None else None)
    return spec, labels, reject_label


def _cmd_evaluate(args) -> int:
    from edge.runtime.classifier import DigitClassifier

    from .evaluation import held_out

    data = _load_data(args)
    for path in args.models:
        if path.suffix == ".tflite":
            classifier = DigitClassifier(path, backend=args.backend)
            meta = classifier.metadata
            spec, labels, reject = meta.input, meta.labels, meta.reject_label
            predict = classifier.predict
            log.info("(%s through %s)", path.name, classifier.backend)
        elif path.suffix in (".keras", ".h5"):
            import keras

            model = keras.models.load_model(path)
            record = path.with_name("training.json")
            provenance = json.loads(record.read_text()) if record.is_file() else {}
            spec, labels, reject = _contract(provenance, int(model.output_shape[-1]), data)
            predict = lambda images, model=model, spec=spec: _keras_probs(model, images, spec)  # noqa: E731
        else:
            print(f"digits-train: error: {path}: expected a .keras, .h5 or .tflite model", file=sys.stderr)
            return 2
        held = held_out(data.x_train, data.x_test, spec, args.held_out_negatives, reject is not None)
        probs = dict(_model_probs(predict, held), test=predict(data.x_test))
        _score(path.name, probs, held, data, labels, args.out, path.stem)
    return 0


def _convert(args, data, keras_path: Path, out: Path) -> dict:
    """Float and int8 conversion, each evaluated through the edge's DigitClassifier; returns the summary.

    Fails (after writing the report) when the float .tflite disagrees with Keras beyond
    ``FLOAT_TOLERANCE`` or int8 loses more than ``--max-drop`` points of MNIST accuracy.
    """
    import keras
    import numpy as np

    from edge.runtime.classifier import DigitClassifier
    from edge.runtime.metadata import write_metadata

    from .conversion import (
        FLOAT_TOLERANCE,
        ConversionError,
        build_metadata,
        calibration_sample,
        check_float_agreement,
        to_float_tflite,
        to_int8_tflite,
        write_model,
    )
    from .evaluation import agreement, held_out, targets_met
    from .plots import save_negatives_png
    from .synth.negatives import negative_set

    out.mkdir(parents=True, exist_ok=True)
    model = keras.models.load_model(keras_path)
    record_path = keras_path.with_name("training.json")
    provenance = json.loads(record_path.read_text()) if record_path.is_file() else {}
    provenance.pop("history", None)
    spec, labels, reject_label = _contract(provenance, int(model.output_shape[-1]), data)
    for key in ("input", "labels", "reject_label"):  # the metadata states these itself
        provenance.pop(key, None)
    held = held_out(data.x_train, data.x_test, spec, args.held_out_negatives, reject_label is not None)
    folder = out / "evaluation"

    probs = {"keras": dict(_model_probs(lambda x: _keras_probs(model, x, spec), held),
                           test=_keras_probs(model, data.x_test, spec))}
    scores = {"keras": _score(keras_path.name, probs["keras"], held, data, labels, folder, "keras")}

    # Calibration sees every class the model has: digits and, for a reject class, training negatives.
    cal_x, cal_y = data.x_train, data.y_train
    if reject_label is not None:
        per_kind = max(1, -(-args.calibration_size // (len(labels) * 8)))
        cal_neg = negative_set(per_kind, 5, spec, data.x_train[:10000])
        cal_x = np.concatenate([cal_x, cal_neg.images])
        cal_y = np.concatenate([cal_y, np.full(len(cal_neg.images), labels.index(reject_label), cal_y.dtype)])
    calibration = calibration_sample(cal_x, cal_y, args.calibration_size, seed=0)
    blobs = {
        "float": to_float_tflite(model),
        "int8": to_int8_tflite(model, calibration, spec, io_type=args.io_type),
    }
    paths = {}
    for kind, blob in blobs.items():
        path = out / f"{args.name}_{kind}.tflite"
        write_model(blob, path)
        write_metadata(build_metadata(path, provenance, spec, labels, reject_label), path.with_suffix(".json"))
        classifier = DigitClassifier(path, backend=args.backend)
        backend = classifier.backend
        probs[kind] = dict(_model_probs(classifier.predict, held), test=classifier.predict(data.x_test))
        scores[kind] = _score(path.name, probs[kind], held, data, labels, folder, kind)
        paths[kind] = path

    # Keras against the float .tflite, through the edge's own classifier, on every input measured.
    differences = {what: float(np.abs(probs["keras"][what] - probs["float"][what]).max()) for what in probs["float"]}
    ev = {kind: scores[kind][0] for kind in scores}
    edge = {kind: scores[kind][1] for kind in scores}
    neg = {kind: scores[kind][2] for kind in scores}
    summary = {
        "labels": list(labels),
        "reject_label": reject_label,
        "keras_accuracy": ev["keras"].accuracy,
        "float_tflite_accuracy": ev["float"].accuracy,
        "int8_tflite_accuracy": ev["int8"].accuracy,
        "int8_float_agreement": agreement(ev["int8"].predictions, ev["float"].predictions),
        "digit_only_accuracy": {k: e.digit_accuracy for k, e in ev.items()},
        "test_digits_rejected": {k: e.rejected for k, e in ev.items()},
        "edge_view": {k: {"accuracy": e.accuracy, "rejected": e.rejected} for k, e in edge.items()},
        "keras_float_max_difference": differences,
        "float_tolerance": FLOAT_TOLERANCE,
        "float_tflite_bytes": paths["float"].stat().st_size,
        "int8_tflite_bytes": paths["int8"].stat().st_size,
        "int8_io_type": args.io_type,
        "calibration_images": len(calibration),
        "verified_with": str(backend),
        "test_images": len(data.y_test),
    }
    if reject_label is not None:
        summary["negatives_rejected"] = {k: dict(zip(n.kinds, n.rejected)) for k, n in neg.items()}
        summary["negatives_rejected_overall"] = {k: n.overall for k, n in neg.items()}
        summary["held_out_negatives_per_kind"] = args.held_out_negatives
        summary["targets"] = targets_met(ev["int8"], neg["int8"])
    accuracy = {k: round(summary[k], 6) for k in ("keras_accuracy", "float_tflite_accuracy", "int8_tflite_accuracy",
                                                 "int8_float_agreement")}
    if reject_label is not None:
        accuracy["test_digits_rejected_int8"] = round(ev["int8"].rejected, 6)
        accuracy["negatives_rejected_int8"] = {k: round(r, 4) for k, r in summary["negatives_rejected"]["int8"].items()}
    for kind, path in paths.items():
        meta_provenance = dict(provenance, converted_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                               quantization="full-integer int8" if kind == "int8" else "none (float32)",
                               accuracy=accuracy, model_bytes=path.stat().st_size)
        write_metadata(build_metadata(path, meta_provenance, spec, labels, reject_label), path.with_suffix(".json"))
    (out / "conversion.json").write_text(json.dumps(summary, indent=2) + "\n")
    if reject_label is not None:
        save_negatives_png(held.negatives.images, held.negatives.kinds, held.negatives.names,
                           probs["int8"]["negatives"].argmax(axis=1), labels, labels.index(reject_label),
                           folder / "int8.negatives.png")
    (out / "REPORT.md").write_text(_report_markdown(provenance, summary, ev, edge, neg))
    log.info(
        "float %.2f%% (%d bytes), int8 %.2f%% (%d bytes), agreement %.2f%%",
        100 * ev["float"].accuracy, summary["float_tflite_bytes"], 100 * ev["int8"].accuracy,
        summary["int8_tflite_bytes"], 100 * summary["int8_float_agreement"],
    )
    for what in differences:
        check_float_agreement(probs["keras"][what], probs["float"][what], _INPUT_NAMES[what])
    drop = 100 * (ev["float"].accuracy - ev["int8"].accuracy)
    if drop > args.max_drop:
        raise ConversionError(
            f"int8 accuracy {100 * ev['int8'].accuracy:.2f}% is {drop:.2f} points below float "
            f"{100 * ev['float'].accuracy:.2f}% (limit {args.max_drop}); the quantised model was not accepted"
        )
    return summary


_INPUT_NAMES = {"test": "MNIST test digits", "edge": "the edge's view of MNIST test digits",
                "negatives": "held-out negatives"}


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _report_markdown(provenance: dict, summary: dict, ev: dict, edge: dict, neg: dict) -> str:
    reject = summary["reject_label"] is not None
    names = {"keras": "Keras (float32)", "float": "TFLite float32",
             "int8": f"TFLite full-integer ({summary['int8_io_type']} I/O)"}
    sizes = {"keras": "-", "float": f"{summary['float_tflite_bytes'] / 1024:.1f} KB",
             "int8": f"{summary['int8_tflite_bytes'] / 1024:.1f} KB"}
    negatives = provenance.get("negatives") or {}
    lines = [
        f"# Model report: {provenance.get('architecture', '?')}",
        "",
        f"{provenance.get('description', '')}",
        "",
        f"- outputs: {', '.join(summary['labels'])}",
        f"- parameters: {provenance.get('parameters', '?')}, multiply-accumulates per digit: "
        f"{provenance.get('macs_per_digit', '?')}",
        f"- trained {provenance.get('epochs', '?')} epochs on {provenance.get('train_images', '?')} images "
        f"({provenance.get('validation_images', '?')} held out), seed {provenance.get('seed', '?')}, "
        f"in {provenance.get('training_seconds', '?')} s on {provenance.get('cpu_count', '?')} CPU cores",
    ]
    if negatives:
        lines.append(
            f"- not-a-digit class: {negatives.get('per_epoch')} negatives an epoch ({negatives.get('per_digit')} per "
            f"digit) from a pool of {negatives.get('pool')} ({len(negatives.get('kinds', []))} kinds); "
            f"{100 * negatives.get('edge_digit_share', 0):.0f}% of digit presentations as the edge sees them"
        )
    lines += [
        f"- data sha256 {provenance.get('data_sha256', '?')}",
        f"- verified with {summary['verified_with']} on {summary['test_images']} MNIST test images; Keras and "
        f"the float .tflite differ by at most {max(summary['keras_float_max_difference'].values()):.2g} in any "
        f"probability (tolerance {summary['float_tolerance']:g})",
        "",
        "| model | MNIST test accuracy | errors | digit-only accuracy | test digits rejected | loss | size |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, e in ev.items():
        lines.append(f"| {names[kind]} | {_pct(e.accuracy)} | {e.errors} | {_pct(e.digit_accuracy)} | "
                     f"{_pct(e.rejected) if reject else '-'} | {e.loss:.4f} | {sizes[kind]} |")
    lines += [
        "",
        "Accuracy counts a rejected test digit as an error; digit-only accuracy takes the best of the ten "
        "digit outputs alone.",
        "",
        f"int8 predictions agree with float on {_pct(summary['int8_float_agreement'])} of test digits.",
        "",
        "MNIST test digits as the edge sees them (drawn 20-120 px tall, thresholded, through the edge's "
        "normaliser): " + ", ".join(f"{names[k]} {_pct(e.accuracy)} read right, {_pct(e.rejected)} rejected"
                                    for k, e in edge.items()) + ".",
        "",
        "Per-class accuracy of the int8 model (%): "
        + ", ".join(f"{d}: {100 * a:.2f}" for d, a in enumerate(ev["int8"].per_class)),
        "",
    ]
    if reject:
        per_kind = summary["held_out_negatives_per_kind"]
        lines += [
            f"## Held-out negatives ({per_kind} of each kind, seeds and digits never trained on)",
            "",
            "| kind | " + " | ".join(names[k] for k in neg) + " |",
            "| --- | " + " | ".join("---" for _ in neg) + " |",
        ]
        kinds = neg["int8"].kinds
        for i, kind in enumerate(kinds):
            lines.append(f"| {kind} | " + " | ".join(_pct(n.rejected[i]) for n in neg.values()) + " |")
        lines.append("| **all** | " + " | ".join(f"**{_pct(n.overall)}**" for n in neg.values()) + " |")
        lines += ["", "## Targets (int8 through the interpreter)", ""]
        lines += [f"- {'met' if ok else 'MISSED'}: {target}" for target, ok in summary["targets"].items()]
        lines.append("")
    lines += [
        "Figures: `evaluation/int8.confusion.png`, `evaluation/int8.misclassified.png`, "
        + ("`evaluation/int8.negatives.png`, " if reject else "") + "`training.png`.",
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
