# Everything a fresh machine needs: `make demo` and `make test` (README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
INDEX ?= index

.PHONY: demo test check lint types bench relevance bench-merge clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 以上が必要です"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -c constraints.txt -e '.[dev]'
	$(BIN)/python -m evalsearch.synonyms --warm
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/evalsearch parse corpus/ --format table
	$(BIN)/evalsearch index corpus/ --index $(INDEX) --rebuild
	$(BIN)/evalsearch search 技能実習生 --index $(INDEX)
	$(BIN)/evalsearch search 取り組み --index $(INDEX) --field ア
	$(BIN)/evalsearch search 統合 --index $(INDEX) --field オ
	$(BIN)/evalsearch similar 12276 --index $(INDEX)
	$(BIN)/evalsearch candidates --index $(INDEX)
	$(BIN)/evalsearch report --candidates --index $(INDEX) --out reports/candidates.html

# The HTML report test renders the report in a real browser (Debian's chromium).
BROWSER := /usr/bin/chromium
$(BROWSER):
	-apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| echo "警告: chromium を導入できません。HTML レポートのブラウザ確認テストはスキップされます"

test: $(STAMP) $(BROWSER)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

bench: $(STAMP)
	$(BIN)/python bench/run.py --sizes 1000,10000 --out bench/results.json

# Judged relevance: evalsearch beside a plain BM25 baseline, same analysis (bench/judgments).
relevance: $(STAMP)
	$(BIN)/python bench/relevance.py

# Merge-pair recall: evalsearch candidates beside TF-IDF over whole sheets (bench/judgments).
bench-merge: $(STAMP)
	$(BIN)/python bench/merge_pairs.py

clean:
	rm -rf $(VENV) reports
