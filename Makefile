# Two commands for a newcomer: `make demo` and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv

.PHONY: setup demo test lint bench bench-latency

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(UV) run nastavnik demo $(ARGS)

# Two processes, whole files each: the two demo years (subprocess stacks, mostly waiting on runs)
# overlap with the rest; each process has its own Prefect test server and PostgreSQL database.
test: setup
	$(UV) run pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=12 $(PYTEST_ARGS)

lint: setup
	$(UV) run ruff check . && $(UV) run ruff format --check . && $(UV) run mypy nastavnik models deployments

bench: setup
	$(UV) run python bench/pdf.py && $(UV) run python bench/matching.py && $(UV) run python bench/mail.py && $(UV) run python bench/year.py && $(UV) run python bench/meetings.py && $(UV) run python bench/rewards.py

# Approval click → resumed run Running, before/after the runner changes (fresh stacks; ~30 min).
bench-latency: setup
	$(UV) run python bench/approval_latency.py $(ARGS)
