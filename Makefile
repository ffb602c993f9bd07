# The two commands of the README. Each does the whole setup idempotently
# (scripts/setup.sh skips what is already done), then its job.
VENV ?= .venv

.PHONY: setup demo test test-fast bench clean-demo

setup:
	bash scripts/setup.sh

demo: setup
	VENV=$(VENV) bash scripts/demo.sh

test: setup
	VENV=$(VENV) bash scripts/test.sh

# The quick subset for the edit loop (no slow, mpi or slurm tests); `make test`
# runs everything.
test-fast: setup
	VENV=$(VENV) bash scripts/test.sh --fast

clean-demo:
	rm -rf demo_output keras_logs/demo
