# The two commands that do everything on a fresh machine:
#   make demo   set up .venv, simulate a capture in the virtual studio and run the pipeline
#   make test   set up .venv (and the Blender venv when the tests need it), run the test suite
VENV := .venv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test bench setup setup-blender setup-test-tools clean

$(STAMP): pyproject.toml scripts/setup_venv.sh
	bash scripts/setup_venv.sh

setup: $(STAMP)

# Blender (bpy, pinned) in its own environment .venv-blender, for the exporter tests that
# import our BVH and FBX files into Blender; the script is idempotent (a stamp file).
setup-blender:
	bash scripts/setup_blender.sh

demo: $(STAMP)
	$(VENV)/bin/mocap demo --out out/demo

# System tools for the tests only (headless Chromium for the report's browser test).
setup-test-tools:
	bash scripts/setup_test_tools.sh

test: $(STAMP) setup-blender setup-test-tools
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	for b in benchmarks/*.py; do $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf out .pytest_cache
