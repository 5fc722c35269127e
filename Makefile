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
	$(BIN)/evalsearch search 高齢者 見守り --index $(INDEX) --limit 5
	$(BIN)/evalsearch search 負担 --field 受益者負担 --index $(INDEX) --limit 5
	$(BIN)/evalsearch similar 12276 --index $(INDEX)
	$(BIN)/evalsearch candidates --municipality 根室市 --index $(INDEX)
	$(BIN)/evalsearch candidates --municipality 大船渡市 --index $(INDEX) --limit 10
	$(BIN)/evalsearch report --candidates --municipality 大船渡市 --index $(INDEX) --out reports/candidates.html

# The HTML report test renders the report in a real browser (Debian's chromium) with a Japanese
# font (fonts-noto-cjk): without the font every kanji is an empty box and that test fails.
BROWSER := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
$(BROWSER) $(CJK_FONT) &:
	-apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null \
		|| echo "警告: chromium と日本語フォント（fonts-noto-cjk）を導入できません。chromium がなければ HTML レポートのブラウザ確認テストはスキップされます"

test: $(STAMP) $(BROWSER) $(CJK_FONT)
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
