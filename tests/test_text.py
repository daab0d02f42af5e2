"""Character normalisation: dashes, quotes, whitespace, control characters; case and Greek kept."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.text import normalize_text, normalize_title, unify_characters

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("IL\u20106", "IL-6"),  # hyphen
        ("IL\u20116", "IL-6"),  # non-breaking hyphen (NFKC -> U+2010)
        ("COVID\u201219", "COVID-19"),  # figure dash
        ("5\u201310 mg", "5-10 mg"),  # en dash
        ("SARS\u2014CoV\u22122", "SARS-CoV-2"),  # em dash, minus sign
        ("pain \u2013 mild", "pain - mild"),  # en dash between spaces
        ("dose \u2014 high", "dose - high"),
        ("\uff0d\ufe63", "--"),  # full-width and small hyphen-minus
    ],
)
def test_dashes_become_hyphen(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_quotes_unified() -> None:
    assert normalize_text("\u2018a\u2019 \u201ab\u201b 5\u2032") == "'a' 'b' 5'"
    assert normalize_text("\u201cx\u201d \u201ey\u201f 3\u2033") == '"x" "y" 3"'


def test_case_and_greek_kept() -> None:
    assert normalize_text("β-Blocker and TNF-α, ΔF508") == "β-Blocker and TNF-α, ΔF508"
    # The micro sign becomes Greek mu (NFKC); the tokenizer treats both alike.
    assert normalize_text("5 \u00b5g") == "5 \u03bcg"


def test_nfkc_ligatures_fullwidth_nbsp() -> None:
    assert normalize_text("\ufb01brosis\u00a0\uff28\uff42\uff21\uff11\uff43") == "fibrosis HbA1c"


def test_whitespace_collapsed_but_paragraphs_kept() -> None:
    raw = "  First   line\t\twith  tabs  \n   second line\n\n\n\n  Para two \r\n end  "
    assert normalize_text(raw) == "First line with tabs\nsecond line\n\nPara two\nend"


def test_control_and_invisible_characters_removed() -> None:
    assert normalize_text("a\x00b\x07c\u200bd\u00ade\ufefff") == "abcdef"
    assert normalize_text("line\u2028next\x0cpage") == "line\nnext\npage"


def test_empty_and_whitespace() -> None:
    assert normalize_text("") == ""
    assert normalize_text(" \n\t\n ") == ""


def test_title_is_one_line() -> None:
    assert normalize_title("\n  What is\n  ALL ?  ") == "What is ALL ?"


def test_unify_characters_keeps_lines() -> None:
    assert unify_characters("a \u2013 b\r\nc") == "a - b\nc"


@settings(max_examples=300, deadline=None, database=None)
@given(st.text())
def test_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert once == once.strip()
    assert "\n\n\n" not in once and "  " not in once
