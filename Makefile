# kimi-lsp: the two commands are `make demo` and `make test`; the rest are their set-up steps.
# Everything installs from the package registries: the server into .venv, the engine (SGLang, CPU torch) into
# its own .venv-engine, which the server finds there; downloads are cached outside the repo (pip's cache,
# ${XDG_CACHE_HOME:-~/.cache}/kimi-lsp).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ENGINE_VENV ?= .venv-engine
PIP    := timeout 1800 $(BIN)/python -m pip install --progress-bar off -c engine/constraints.txt

.PHONY: venv engine editors test test-fast typecheck demo bench clean

venv: $(VENV)/.kimi-lsp-base.stamp

$(VENV)/.kimi-lsp-base.stamp: pyproject.toml engine/constraints.txt setup.py $(wildcard kimi_lsp/index/_outline*.[ch]) kimi_lsp/index/_runtime.c kimi_lsp/index/_symtab.c tools/pgo-build.sh tools/pgo_train.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[dev]'
	# the extractor: compiled with tree-sitter's runtime and a profile (tools/pgo-build.sh)
	runtime=$$(bash tools/tree-sitter-runtime.sh $(BIN)/python) \
	    && bash tools/pgo-build.sh $(BIN)/python "$$runtime" \
	    || echo "warning: no tree-sitter runtime source, so no C extractor" >&2
	$(BIN)/python -c "import kimi_lsp.index._outline, kimi_lsp.index._symtab" || echo "warning: the C extensions did not build; indexing runs in Python" >&2
	touch $@

engine:                 ## CPU torch + SGLang + its runtime requirements in .venv-engine (engine/install.sh; no pip extra: SGLang goes in with --no-deps)
	test -x $(ENGINE_VENV)/bin/python || $(PYTHON) -m venv $(ENGINE_VENV)
	bash engine/install.sh $(ENGINE_VENV)

editors: venv           ## code-server + chromium, Neovim 0.11/0.12, LSP4J, Emacs, Helix (see editors/install.sh)
	bash editors/install.sh $(BIN)/python

typecheck: venv         ## mypy (strict), ruff's lint rules and its format check
	$(BIN)/mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: engine editors typecheck   ## every test: unit, LSP end to end, the real SGLang engine, real editors
	KIMI_LSP_NO_NATIVE=0 $(BIN)/python -m pytest
	KIMI_LSP_NO_NATIVE=1 $(BIN)/python -m pytest tests/unit/index

test-fast: venv typecheck        ## unit and LSP end-to-end tests only (no engine, no editors)
	KIMI_LSP_NO_NATIVE=0 $(BIN)/python -m pytest tests/unit tests/lsp
	KIMI_LSP_NO_NATIVE=1 $(BIN)/python -m pytest tests/unit/index

demo: venv engine       ## the main job on the embedded engine: a scripted editing session, printed
	$(BIN)/python -m kimi_lsp.demo

bench: venv engine
	$(BIN)/python bench/lsp_overhead.py
	$(BIN)/python bench/engine_latency.py
	$(BIN)/python bench/index.py --quick

clean:
	rm -rf $(VENV) $(ENGINE_VENV) build *.egg-info .pytest_cache .mypy_cache
