"""Sheets written for the search tests, rendered as a text dump by bench/layout.py.

Each sheet pins one behaviour: 30001 has 技能実習生 (compound), 30008 has 技能 and 実習生
apart; 30002 speaks of 統合 in ウ but not in オ; 30003/30004 spell ＮＰＯ and NPO; 30005 has
only the verb 取組む, 30006 only the noun 取組み; 30011 and 30012 differ only in the order of 地域住民 and 交流; 12276 (2022) is an older year of a sample
project.
"""

from __future__ import annotations

from pathlib import Path

from bench.layout import ORDERED, render
from evalsearch.records import SheetRecord
from tests.factories import make_record

TEST_SHEETS: tuple[SheetRecord, ...] = (
    make_record(
        "30001",
        "外国人材受入支援事業",
        department="商工労働観光課",
        activities="外国人技能実習生の受入れを支援し、生活相談の窓口を設ける。",
        intent="地域の事業所が外国人材を安定して確保できるようにする。",
        reasons={"オ": "類似する事業はない。"},
        decision="現状のまま継続",
    ),
    make_record(
        "30008",
        "職業訓練支援事業",
        department="商工労働観光課",
        activities="技能と実習生の職業訓練を支援し、就労の窓口を設ける。",
        intent="地域の事業所が必要な人材を安定して確保できるようにする。",
        reasons={"オ": "類似する事業はない。"},
        decision="休止",
    ),
    make_record(
        "30002",
        "観光案内所運営事業",
        department="観光課",
        activities="観光案内所を運営し、観光客に情報を提供する。",
        reasons={
            "ウ": "観光協会の案内業務との事業統合について検討を進める必要がある。",
            "オ": "類似する事業はない。",
        },
        answers={"ウ": "ある", "オ": "ない"},
        decision="見直しのうえで継続",
        measures=("手段を見直す",),
    ),
    make_record(
        "30003",
        "市民活動支援事業",
        department="市民協働課",
        activities="ＮＰＯと連携し、市民活動のＰＲを行う。",
        reasons={"イ": "ＮＰＯが担うことも可能である。"},
        decision="見直しのうえで継続",
        measures=("統合・振替",),
        fiscal_year=2023,
    ),
    make_record(
        "30004",
        "地域づくり協働事業",
        department="市民協働課",
        activities="NPOと協働して地域課題の解決を図る。",
        decision="現状のまま継続",
    ),
    make_record(
        "30005",
        "地域防災訓練事業",
        department="防災課",
        activities="自主防災組織と市民が主体的に取組む防災訓練を行う。",
        decision="現状のまま継続",
    ),
    make_record(
        "30006",
        "地域見守り事業",
        department="福祉課",
        activities="町内会による高齢者の見守りの取組みを支援する。",
        decision="現状のまま継続",
    ),
    make_record(
        "30011",
        "交流拠点運営事業",
        department="市民協働課",
        activities="交流の場に地域住民を招く。",
        decision="現状のまま継続",
    ),
    make_record(
        "30012",
        "交流広場運営事業",
        department="市民協働課",
        activities="地域住民との交流の場を設ける。",
        decision="現状のまま継続",
    ),
    make_record(
        "12276",
        "輸出促進支援事業",
        department="総合政策室",
        fiscal_year=2022,
        activities="根室産水産物の輸出を促進するため、海外の商談会に出展する。",
        decision="現状のまま継続",
    ),
)


def dump_text(records: tuple[SheetRecord, ...] | list[SheetRecord]) -> str:
    return "".join(
        render(record, ORDERED, first_in_file=index == 0) for index, record in enumerate(records)
    )


def write_dump(path: Path, records: tuple[SheetRecord, ...] | list[SheetRecord]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_text(records), "utf-8")
    return path
