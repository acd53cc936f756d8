# One command per chore. Each target creates .venv on first use and installs what it needs,
# so on a fresh machine `make demo` and `make test` are all there is to type.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-deps test lint demo chaos bench bench-quick bench-docs bench-rss bench-daemon bench-tools clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	touch $(STAMP)

test: install system-deps
	$(BIN)/python -m pytest -q

# What the tests need from the system: chromium, for the dashboard test in a real browser
# (installed with apt when it is missing and we are root; otherwise say what to install).
system-deps:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
		     || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; }; } \
		|| { echo "make test needs chromium (apt-get install chromium)"; exit 1; }

# A few minutes: the long chaos run (random SIGKILLs of workers and of the whole process group,
# resumed each time) with three fresh seeds, each printed for replay with SHOAL_CHAOS_SEED=N;
# then the HTML parsing path fuzzed for 60 s (coverage-guided with atheris where it installs,
# random mutation otherwise). `make test` runs short versions of both through pytest.
chaos: install
	for run in 1 2 3; do \
		SHOAL_CHAOS_PAGES=6000 SHOAL_CHAOS_ROUNDS=6 $(BIN)/python -m pytest -q -s -p no:cacheprovider \
			tests/test_chaos.py || exit 1; \
	done
	$(BIN)/python -m pip install -q atheris 2>/dev/null || echo "fuzz: atheris not installable here"
	$(BIN)/python tests/fuzz_parse.py --seconds 60

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	.ci/typecheck

demo: install
	$(BIN)/python bench/demo.py

# The competitors (Scrapy, requests, matplotlib for the charts) go into .venv only, and wrk
# from the system's packages when it can be installed; without it the server's ceiling is
# measured with an aiohttp loop and results.md says so.
bench-tools: install
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	@command -v wrk >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& apt-get install -y -qq wrk >/dev/null; } || echo "bench: wrk not installed"

bench: bench-tools
	$(BIN)/python bench/run.py

bench-quick: bench-tools
	$(BIN)/python bench/run.py --quick --out bench/out

# The docs plugin's extractor and converter against trafilatura, html2text and markdownify
# (pages/s on one core, recall and chrome), on the fixture sites and on a held-out corpus of
# real projects' docs built with other themes (downloaded from PyPI and built once, cached
# outside the repository): docs_results.md. About 2 minutes warm, 4-5 cold.
bench-docs: bench-tools
	$(BIN)/python bench/docs_convert.py

# shoal rss against a plain sequential loop: 200 feeds x 20 articles on 20 loopback hosts,
# 100 ms per response (about 2 minutes): rss_results.md.
bench-rss: bench-tools
	$(BIN)/python bench/rss.py

# The daemon's /healthz and /jobs latency at 100 requests/s, idle and while its crawl keeps
# every core busy (about a minute): daemon_results.md.
bench-daemon: install
	$(BIN)/python bench/daemon_latency.py

clean:
	rm -rf $(VENV) build *.egg-info .lint demo-out
