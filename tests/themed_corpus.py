"""A small corpus for similarity tests: four themes, each with two sheets written by different
departments that overlap, plus distractors that share only generic administrative words.

Overlapping pairs: (21001, 21002) export, (22001, 22002) child-rearing, (23001, 23002) bridges,
(24001, 24002, 24003) elderly care (a cluster of three). Distractors 29001–29003 are written in
the administrative boilerplate every sheet uses (事業を推進, 必要, 検討, 実施, 図る …) around one
unrelated topic each.

``YEARS`` (at the end) is a second corpus: one project over two fiscal years and its neighbours,
for the year scopes of ``similar``. tests/conftest.py builds one index of each, once.
"""

from __future__ import annotations

from evalsearch.records import SheetRecord
from tests.factories import make_record

BOILERPLATE = (
    "事業を推進するため、必要な検討を行い、効果的に実施することで、市民サービスの向上を図る。"
)

THEMED: tuple[SheetRecord, ...] = (
    make_record(
        "21001",
        "水産物輸出促進事業",
        department="総合政策室",
        policy_area="海外との経済交流の推進",
        activities="水産物の輸出を促進するため、海外の商談会への出展やバイヤー招へいを行う。",
        intent="海外販路を開拓し、水産加工業者の売上を伸ばす。",
        reasons={
            "ア": "海外商談会で水産加工品の成約があり、輸出額が増えた。",
            "ウ": "商工観光課の海外販路開拓事業と商談会の出展先が重なっている。",
            "オ": "海外販路開拓支援事業と統合し、商談会出展を一本化できる。",
        },
        answers={"オ": "ある"},
        decision="見直しのうえで継続",
        measures=("統合・振替",),
    ),
    make_record(
        "21002",
        "海外販路開拓支援事業",
        department="商工観光課",
        policy_area="商工業の振興",
        activities="水産加工業者の海外商談会出展経費を補助し、バイヤーとの商談を支援する。",
        intent="水産加工品の海外販路を広げ、輸出に取り組む業者を増やす。",
        reasons={
            "ア": "補助を受けた水産加工業者が海外商談会で成約し、輸出が始まった。",
            "オ": "水産物輸出促進事業と商談会の出展先が重なっており、統合を検討できる。",
        },
        answers={"オ": "一部ある"},
    ),
    make_record(
        "22001",
        "子育て相談事業",
        department="子育て支援課",
        policy_area="子育て環境の充実",
        activities="子育て相談窓口で育児の悩みを聞き、保育士と保健師が乳幼児の発達を相談する。",
        intent="育児不安を抱える保護者の孤立を防ぐ。",
        reasons={
            "ア": "乳幼児をもつ保護者からの育児相談が増え、育児不安の解消につながった。",
            "ウ": "乳幼児健診の育児相談と相談内容が重なる。",
        },
    ),
    make_record(
        "22002",
        "乳幼児健康診査事業",
        department="健康推進課",
        policy_area="健康づくりの推進",
        activities="乳幼児健診で発達を確認し、保健師が育児相談に応じる。",
        intent="乳幼児の発達の遅れを早く見つけ、保護者の育児不安を和らげる。",
        reasons={
            "ア": "健診の受診率が高く、育児相談で保護者の育児不安に応えている。",
            "オ": "子育て相談窓口の育児相談と連携できる。",
        },
    ),
    make_record(
        "23001",
        "橋梁長寿命化事業",
        department="建設課",
        policy_area="道路網の整備",
        activities="橋梁の定期点検を行い、損傷の大きい橋の補修工事を計画的に進める。",
        intent="橋梁の長寿命化で架け替え費用を抑える。",
        reasons={
            "ア": "定期点検で損傷を早期に把握し、補修工事で通行止めを避けられた。",
            "エ": "点検業務を道路舗装補修と一括発注すれば費用を抑えられる。",
        },
    ),
    make_record(
        "23002",
        "道路橋補修事業",
        department="都市整備課",
        policy_area="都市基盤の整備",
        activities="市道の橋の損傷を点検し、舗装と橋の補修工事を行う。",
        intent="橋の損傷による通行止めを防ぐ。",
        reasons={
            "ア": "点検で見つけた損傷を補修し、橋の通行止めはなかった。",
            "オ": "橋梁長寿命化事業と点検・補修工事が重なり、統合が可能。",
        },
        answers={"オ": "ある"},
    ),
    make_record(
        "24001",
        "介護予防教室事業",
        department="介護福祉課",
        policy_area="高齢者福祉の充実",
        activities="高齢者向けの介護予防教室で体操と認知症予防の講座を開く。",
        intent="高齢者の要介護状態を遅らせる。",
        reasons={"ア": "介護予防教室の参加者の体力測定の結果が維持された。"},
    ),
    make_record(
        "24002",
        "高齢者体操普及事業",
        department="スポーツ課",
        policy_area="生涯スポーツの振興",
        activities="高齢者の体操教室を地区ごとに開き、介護予防の体操を広める。",
        intent="高齢者の体力を保ち、介護予防につなげる。",
        reasons={"ア": "体操教室の参加者が増え、体力測定の結果も良い。"},
    ),
    make_record(
        "24003",
        "認知症予防講座事業",
        department="地域包括支援センター",
        policy_area="高齢者福祉の充実",
        activities="認知症予防の講座と体操教室を高齢者向けに開く。",
        intent="高齢者の認知症を予防し、介護予防を進める。",
        reasons={"ア": "講座の参加者の認知症予防への関心が高まった。"},
    ),
    make_record(
        "29001",
        "図書館運営事業",
        department="教育委員会",
        activities=f"図書館の蔵書を管理する。{BOILERPLATE}",
        intent=BOILERPLATE,
        reasons={label: BOILERPLATE for label in ("ア", "イ", "ウ", "エ", "オ", "カ")},
    ),
    make_record(
        "29002",
        "消防団活動支援事業",
        department="消防本部",
        activities=f"消防団の訓練を支援する。{BOILERPLATE}",
        intent=BOILERPLATE,
        reasons={label: BOILERPLATE for label in ("ア", "イ", "ウ", "エ", "オ", "カ")},
    ),
    make_record(
        "29003",
        "上水道配水管更新事業",
        department="水道課",
        activities=f"老朽化した配水管を更新する。{BOILERPLATE}",
        intent=BOILERPLATE,
        reasons={label: BOILERPLATE for label in ("ア", "イ", "ウ", "エ", "オ", "カ")},
    ),
)

OVERLAPPING_PAIRS: tuple[tuple[str, str], ...] = (
    ("21001", "21002"),
    ("22001", "22002"),
    ("23001", "23002"),
    ("24001", "24002"),
    ("24001", "24003"),
    ("24002", "24003"),
)
DISTRACTORS: tuple[str, ...] = ("29001", "29002", "29003")


def analyze_records(records: tuple[SheetRecord, ...] | list[SheetRecord]) -> list[dict]:
    """Each record's passages through the real Sudachi analysis, as build.py hands them over."""
    from evalsearch.analysis import analyze

    return [
        {label: analyze(text) for label, text in record.passages().items()} for record in records
    ]


# --- several fiscal years ------------------------------------------------------------------
# 31001 has a sheet in 2022 and in 2023; 31002 is 2023 only, 31003 2022 only. All four speak of
# sorting waste, so each year scope of ``similar 31001`` gives a different set of sheets:
# other projects of every year (default) {2023-31002, 2022-31003}; the same year {2023-31002};
# any year {2023-31002, 2022-31003, 2022-31001}.

YEARS: tuple[SheetRecord, ...] = (
    make_record(
        "31001",
        "ごみ分別啓発事業",
        fiscal_year=2022,
        activities="ごみの分別方法を説明する出前講座を開き、資源ごみの回収を増やす。",
    ),
    make_record(
        "31001",
        "ごみ分別啓発事業",
        fiscal_year=2023,
        activities="ごみの分別方法を説明する出前講座を開き、資源ごみの回収を増やす。",
    ),
    make_record(
        "31002",
        "資源回収奨励事業",
        fiscal_year=2023,
        activities="町内会の資源ごみ回収に奨励金を出し、ごみの分別を進める。",
    ),
    make_record(
        "31003",
        "生ごみ減量推進事業",
        fiscal_year=2022,
        activities="生ごみの分別と堆肥化を説明する出前講座を開き、ごみの回収量を減らす。",
    ),
)
