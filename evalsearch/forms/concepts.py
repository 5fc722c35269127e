"""The fixed vocabulary that lets sheets of different forms be compared.

Every municipality prints its own questions (根室市 ア–カ, 大船渡市 ①–⑧). A profile tags each
question and passage with one of these concepts, so search filters and candidate evidence can
ask for "the 統合 question" or "the 受益者負担 passage" without knowing the form. The list is
closed on purpose: a concept only means something if every profile uses the same word for it.
"""

from __future__ import annotations

CONCEPTS: tuple[str, ...] = (
    "必要性・公共関与",
    "成果・有効性",
    "類似・重複",
    "統合",
    "民間活用",
    "コスト削減",
    "受益者負担",
    "見直しの内容",
    "今後の動向",
    "今後の方向性",
    "事業概要",
    "手段・活動",
    "意図",
    "対象",
)

INTEGRATION = "統合"
"""The concept carried by direction options that announce a merger (candidate evidence)."""

PASSAGE_FIELDS: dict[str, str] = {
    "activities": "活動内容・手段",
    "intent": "意図",
    "target": "対象",
    "target_outlook": "対象者の今後の予想",
    "review_content": "見直しの内容など",
    "outlook_needs": "今後の動向・市民ニーズなど",
}
"""SheetRecord text fields a passage may fill (with what they hold); other passages go to
``record.texts``."""
