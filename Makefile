# Two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test features-live install chromium lint bench clean

run: $(STAMP)  ## start simulator (:8000) and issuer backend (:8001) with the demo issuer
	$(VENV)/bin/d1sandbox up

test: $(STAMP) chromium  ## every test: pytest, then behave
	$(PY) -m pytest
	$(VENV)/bin/behave --no-capture --format progress features

# The same features against real services (two waitress servers on free ports), not in-process apps.
features-live: $(STAMP)
	$(PY) -m scenarios.live_features --no-capture --format progress features

install: $(STAMP)

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

# Browser tests drive Debian's chromium (playwright cannot download browsers here).
# A Japanese font too: the challenge pages are localized and the screenshots should be readable.
chromium:
	@{ command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/opentype/ipafont-gothic ]; } || { \
	  echo "installing Debian chromium (and a Japanese font) for the browser tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    chromium fonts-ipafont-gothic >/dev/null; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/d1sandbox bench

clean:
	rm -rf var .pytest_cache
