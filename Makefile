# The README's commands. Three environments, as users have them:
#   train       TensorFlow (CPU) for training and conversion, plus LiteRT
#   edge        tflite-runtime 2.14 with numpy<2 and Python 3.11, as on Raspberry Pi OS Bookworm
#   litert      ai-edge-litert with NumPy 2 on a newer Python, and Ray Data (--engine ray; its tests run here)
# The edge environments have no TensorFlow at all.

SHELL := /bin/bash
VENV := .venv
MNIST_DATA ?= ../shared/mnist
export MNIST_DATA

# Python interpreters: override on the command line, e.g. make test PY_EDGE=python3.11
PY_TRAIN ?= $(shell .ci/find-python 3.11 || .ci/find-python 3.12 || command -v python3)
PY_EDGE ?= $(shell .ci/find-python 3.11)
PY_LITERT ?= $(shell .ci/find-python 3.12 || .ci/find-python 3.13 || .ci/find-python 3.11)

PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: help demo test test-fast test-train test-edge test-litert train-model train-strings calibrate bench bench-models pi-check env-train env-edge env-litert clean

help:
	@echo "make demo         set up the edge runtime and read the bundled example images"
	@echo "make test         set up all three environments and run the tests in each"
	@echo "make test-fast    the fast tests only (under half a minute)"
	@echo "make train-model  train, verify and install the shipped digit model (about an hour on 2 cores)"
	@echo "make train-strings  train, verify and install the shipped string reader (about 2 hours on 2 cores)"
	@echo "make calibrate    fit the confidence scores in context on tuning pages (about 10 minutes on 2 cores)"
	@echo "make bench        run the benchmark suite (writes benchmarks/RESULTS.md)"
	@echo "make pi-check     install and run on Raspberry Pi OS (Debian bookworm, trixie) under aarch64 emulation"

$(VENV)/train/.ok: setup.cfg pyproject.toml
	$(PY_TRAIN) -m venv $(VENV)/train
	$(VENV)/train/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/train/bin/pip install $(PIP_FLAGS) -e '.[train,litert,dev]'
	touch $@

$(VENV)/edge/.ok: setup.cfg pyproject.toml
	@test -n "$(PY_EDGE)" || { echo "tflite-runtime needs Python 3.11 (set PY_EDGE)"; exit 1; }
	$(PY_EDGE) -m venv $(VENV)/edge
	$(VENV)/edge/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/edge/bin/pip install $(PIP_FLAGS) '.[edge,dev]'
	touch $@

$(VENV)/litert/.ok: setup.cfg pyproject.toml
	$(PY_LITERT) -m venv $(VENV)/litert
	$(VENV)/litert/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/litert/bin/pip install $(PIP_FLAGS) '.[litert,dev,ray]'
	touch $@

env-train: $(VENV)/train/.ok
env-edge: $(VENV)/edge/.ok
env-litert: $(VENV)/litert/.ok

demo: $(VENV)/litert/.ok
	$(VENV)/litert/bin/pip install $(PIP_FLAGS) --force-reinstall --no-deps .
	$(VENV)/litert/bin/digits-recognize edge/examples --out annotated
	@echo "annotated copies written to annotated/"

# The edge environments get a fresh non-editable install each time, so the tests see exactly what
# `pip install .[edge]` gives a user (models packaged, console scripts present).
test: test-train test-edge test-litert

# The fast tests (no process started, no TensorFlow imported), in the training environment.
test-fast: $(VENV)/train/.ok
	bash .ci/pytest-in $(VENV)/train -m "not slow and not train"

test-train: $(VENV)/train/.ok
	bash .ci/pytest-in $(VENV)/train

test-edge: $(VENV)/edge/.ok
	$(VENV)/edge/bin/pip install $(PIP_FLAGS) --force-reinstall --no-deps .
	EDGE_ENV=1 bash .ci/pytest-in $(VENV)/edge -m "not train"

test-litert: $(VENV)/litert/.ok
	$(VENV)/litert/bin/pip install $(PIP_FLAGS) --force-reinstall --no-deps .
	EDGE_ENV=1 REQUIRE_RAY=1 bash .ci/pytest-in $(VENV)/litert -m "not train"

# The shipped digit model (ten digits and "not a digit"): what models/digits_int8.tflite was made by
# (into runs/reject, then `digits-train install runs/reject`).
train-model: $(VENV)/train/.ok
	nice -n 10 $(VENV)/train/bin/digits-train build --data $(MNIST_DATA) --out runs/reject --install models

# The shipped string reader: what models/strings_int8.tflite was made by (seed 1; see
# models/report/strings/): three runs, each going on from the last with 200,000 strings it has not
# seen and a lower learning rate (5 + 3 + 3 epochs).
train-strings: $(VENV)/train/.ok
	nice -n 10 $(VENV)/train/bin/digits-train strings --data $(MNIST_DATA) --epochs 5 --train-size 200000 --learning-rate 0.003 --out runs/strings-1
	nice -n 10 $(VENV)/train/bin/digits-train strings --data $(MNIST_DATA) --epochs 3 --train-size 200000 --first-seed 200000 --init runs/strings-1/model.keras --learning-rate 0.001 --out runs/strings-2
	nice -n 10 $(VENV)/train/bin/digits-train strings --data $(MNIST_DATA) --epochs 3 --train-size 200000 --first-seed 400000 --init runs/strings-2/model.keras --learning-rate 0.0005 --out runs/strings --install models

# The confidence scores in context (edge/pipeline/confidence.py), fitted on tuning pages: writes
# benchmarks/calibration.json and prints the weights to paste into LONE and MEMBER.
calibrate: $(VENV)/train/.ok
	$(VENV)/train/bin/python -m benchmarks.calibrate --data $(MNIST_DATA)

# The tutorial's CNN, trained by our trainer, for the benchmark's comparison (not committed: 9.5 MB float).
bench-models: $(VENV)/train/.ok
	$(VENV)/train/bin/digits-train build --arch seed --name seed --data $(MNIST_DATA) --out benchmarks/models

# RapidOCR, the second competitor: its dependencies from the bench extra, itself without its
# opencv-python requirement (it would shadow opencv-python-headless); skipped on Python 3.13+.
# Debian handwriting fonts the benchmark reads pages in (benchmarks/fonts.py): evaluation only, never training.
HANDWRITING_FONTS = fonts-dkg-handwriting fonts-breip fonts-ecolier-court fonts-dancingscript fonts-kristi

bench: $(VENV)/litert/.ok $(VENV)/edge/.ok $(VENV)/train/.ok
	if $(VENV)/litert/bin/python -c 'import sys; sys.exit(sys.version_info >= (3, 13))'; then \
		$(VENV)/litert/bin/pip install $(PIP_FLAGS) '.[bench]' && \
		$(VENV)/litert/bin/pip install $(PIP_FLAGS) --no-deps 'rapidocr-onnxruntime==1.4.4'; \
	else echo "RapidOCR has no wheel for this Python: the benchmark leaves it out"; fi
	test -f benchmarks/models/seed_int8.tflite || $(MAKE) bench-models
	command -v tesseract >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && apt-get install -y -qq tesseract-ocr >/dev/null; } \
		|| echo "Tesseract is not installed (apt-get install tesseract-ocr): the benchmark leaves it out"
	test -f /usr/share/fonts/truetype/kristi/Kristi.ttf || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& apt-get install -y -qq $(HANDWRITING_FONTS) >/dev/null; } \
		|| echo "Handwriting fonts are not installed (apt-get install $(HANDWRITING_FONTS)): the benchmark leaves them out"
	$(VENV)/litert/bin/python -m benchmarks.run

# The Raspberry Pi install proved under aarch64 emulation (.ci/pi-check/pi_check.py): Debian bookworm
# and trixie roots (cached), the README's pip commands in each, readings compared with this machine's.
# Needs root, binfmt_misc, qemu-user-static and mmdebstrap (`pi_check.py --preflight` says what is
# missing). About 6 CPU-minutes with the roots cached, 15 without (12 and 36 minutes of wall time on
# a loaded 2-core machine).
pi-check:
	$(PY_LITERT) .ci/pi-check/pi_check.py --tflite-python "$(PY_EDGE)" --litert-python "$(PY_LITERT)" --mnist $(MNIST_DATA)

clean:
	rm -rf $(VENV) build dist *.egg-info annotated
