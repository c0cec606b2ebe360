.PHONY: install check test demo

install:
	python -m pip install -e '.[test]'

check:
	ruff check .
	ruff format --check .
	mypy

test:
	python -m pytest

demo:
	oauth-bridge demo
