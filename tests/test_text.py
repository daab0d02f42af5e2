"""Character normalisation: dashes, quotes, whitespace, control characters; case and Greek kept."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.text import normalize_text, normalize_title, unify_characters

pytestmark = pytest.mark.unit


# Issue 14.3: stored/shown text is kept as written (NFC at most); only matching tokens fold.
@pytest.mark.parametrize(
    "raw",
    [
        "below 10 \u00d7 10\u2079/L",  # superscript 9: NFKC would make it "109/L"
        "m\u00b2 body surface",  # m² must not become m2
        "IL\u20106 and SARS\u2014CoV\u22122",  # hyphen, em dash, minus sign
        "pain \u2013 mild, 5\u201310 mg",  # en dashes
        "\u201cquoted\u201d \u2018single\u2019 5\u2032 3\u2033",  # quotes and primes
        "5 \u00b5g, \uff28\uff42\uff21\uff11\uff43, \ufb01brosis",  # micro sign, full-width, ligature
        "\u00bd tablet, 37 \u2103, x\u2082",  # vulgar fraction, degree Celsius, subscript
    ],
)
def test_visible_characters_kept_as_written(raw: str) -> None:
    assert normalize_text(raw) == raw
    assert normalize_title(raw) == raw


def test_nfc_composes_only() -> None:
    # e + combining acute is the same visible text as é: composed (NFC); nothing else changes.
    assert normalize_text("caf\u0065\u0301 10\u2079") == "caf\u00e9 10\u2079"


@pytest.mark.parametrize(
    "raw, folded",
    [
        ("IL\u20106", "IL-6"),
        ("SARS\u2014CoV\u22122", "SARS-CoV-2"),
        ("\u2018a\u2019 \u201cx\u201d", "'a' \"x\""),
        ("5 \u00b5g", "5 \u03bcg"),
        ("\ufb01brosis\u00a0\uff28\uff42\uff21\uff11\uff43", "fibrosis HbA1c"),
    ],
)
def test_matching_fold_is_separate(raw: str, folded: str) -> None:
    assert unify_characters(raw) == folded


def test_matching_tokens_fold_but_text_does_not() -> None:
    from indexer.tokenize import tokenize

    raw = "IL\u20106 in \uff28\uff42\uff21\uff11\uff43 with 5 \u00b5g"
    assert normalize_text(raw) == raw
    assert tokenize(raw) == tokenize("IL-6 in HbA1c with 5 \u03bcg")


def test_case_and_greek_kept() -> None:
    assert normalize_text("β-Blocker and TNF-α, ΔF508") == "β-Blocker and TNF-α, ΔF508"


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
