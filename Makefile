.PHONY: install check test test-fast demo

# pytest exits 5 when it collects no tests; for this project that is a failure, never a pass.
run_pytest = python -m pytest $(1); status=$$?; \
	if [ $$status -eq 5 ]; then \
	  echo "pytest collected no tests: that is a failure for this project" >&2; exit 1; \
	fi; exit $$status

install:
	python -m pip install -e '.[test]'

check:
	ruff check .
	ruff format --check .
	mypy

test:
	$(call run_pytest,)

# The quick loop while working: no headless Chromium, nothing marked slow.
test-fast:
	$(call run_pytest,-m "not browser and not slow")

demo:
	oauth-bridge demo
