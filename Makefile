.PHONY: install test check example bench cluster-up cluster-down

install:
	python3 -m pip install -e '.[test]'

test:
	python3 -m pytest

check:
	python3 -m ruff check meshmigrate converters tests scripts bench
	python3 -m mypy

example:
	meshmigrate convert -f examples/bookinfo/

bench:
	python3 bench/run.py

cluster-up:
	scripts/test-cluster up

cluster-down:
	scripts/test-cluster down
