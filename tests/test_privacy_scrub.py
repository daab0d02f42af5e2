"""PHI scrubber: each identifier kind, placeholders, no false alarms on clinical text, synthetic recall,
the logging filter, and a property test over random text."""
import logging
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy import PrivacyError, ScrubConfig, Scrubber, default_scrubber, scrub_text
from privacy.logging import PhiScrubbingFilter, install_log_scrubbing
from privacy.synthetic import evaluate, generate_notes

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return default_scrubber()


@pytest.mark.parametrize("text, entity, value", [
    ("MRN: 00123456, admitted", "MRN", "00123456"),
    ("MR# 7654321 on the ward", "MRN", "7654321"),
    ("medical record no. 12345678", "MRN", "12345678"),
    ("chart 123456 reviewed", "MRN", "123456"),
    ("DOB 03/14/1952.", "DATE", "03/14/1952"),
    ("born 1952-03-14 in", "DATE", "1952-03-14"),
    ("seen March 14, 1952 by", "DATE", "March 14, 1952"),
    ("seen 14 Mar 1952 by", "DATE", "14 Mar 1952"),
    ("call 555-123-4567 today", "PHONE", "555-123-4567"),
    ("Fax: (555) 222-3333 x12", "PHONE", "(555) 222-3333 x12"),
    ("tel +1-555-123-4567", "PHONE", "+1-555-123-4567"),
    ("mail jane.roe@example.org now", "EMAIL", "jane.roe@example.org"),
    ("SSN 123-45-6789 on file", "SSN", "123-45-6789"),  # a sample SSN Presidio itself skips
    ("lives at 1234 N. Oak Street Apt. 5", "ADDRESS", "1234 N. Oak Street Apt. 5"),
    ("Springfield, IL 62704", "ADDRESS", "Springfield, IL 62704"),
    ("PO Box 123", "ADDRESS", "PO Box 123"),
    ("a 92-year-old woman", "AGE", "92-year-old"),
    ("age 95, frail", "AGE", "age 95"),
    ("aged 101 and well", "AGE", "aged 101"),
    ("Pt John Smith has fever", "PERSON", "John Smith"),
    ("seen by Dr. Alan Turing today", "PERSON", "Alan Turing"),
    ("Signed,\nMary Jones\n", "PERSON", "Mary Jones"),
    ("Name: Smith, John", "PERSON", "Smith, John"),
    ("see https://intranet.example.org/pt/42", "URL", "https://intranet.example.org/pt/42"),
])
def test_finds_each_identifier_kind(scrubber, text, entity, value):
    spans = scrubber.find(text)
    assert [(s.entity_type, s.text) for s in spans] == [(entity, value)]
    assert scrubber.scrub(text) == text.replace(value, f"<{entity}>")


def test_full_question_is_scrubbed_with_typed_placeholders(scrubber):
    q = ("Pt Maria Lopez, MRN: 00123456, DOB 03/14/1952, phone 555-123-4567, maria@example.com: "
         "is warfarin safe with her 2.5 mg dose? Lopez is 92 years old.")
    out = scrubber.scrub(q)
    assert out == ("Pt <PERSON>, MRN: <MRN>, DOB <DATE>, phone <PHONE>, <EMAIL>: "
                   "is warfarin safe with her 2.5 mg dose? <PERSON> is <AGE>.")


@pytest.mark.parametrize("text", [
    "What is the dose of metformin for a 65 year old with eGFR 40?",
    "BP 120/80, HR 72, take 1/2 tablet twice daily; HbA1c 7.5% in 2019.",
    "What is the generic name of Lipitor?",
    "Patient Education: what are the symptoms of Parkinson disease?",
    "Give 5 mg/kg every 12 hours for 10 days (version 1.2.10).",
    "loaded reader/model.onnx from cli.py in 2.5 s",
])
def test_ordinary_clinical_text_is_left_alone(scrubber, text):
    assert scrubber.find(text) == []


def test_threshold_and_entity_selection():
    only_dates = Scrubber(ScrubConfig(entities=("DATE",)))
    assert only_dates.scrub("MRN 1234567 on 2020-01-05") == "MRN 1234567 on <DATE>"
    strict = Scrubber(ScrubConfig(score_threshold=0.95))
    assert strict.scrub("call 555-123-4567") == "call 555-123-4567"
    with pytest.raises(PrivacyError):
        ScrubConfig(entities=("NAME",))
    with pytest.raises(PrivacyError):
        ScrubConfig(score_threshold=2)


def test_scrub_text_convenience():
    assert scrub_text("") == ""
    assert scrub_text("SSN 078-05-1120") == "SSN <SSN>"


def test_patterned_recall_on_unseen_synthetic_notes(scrubber):
    # Seed 0 was used while writing the rules; this seed was not.
    scores = evaluate(scrubber.find, generate_notes(60, seed=20261125))
    for entity in ("MRN", "PHONE", "EMAIL", "SSN", "DATE"):
        assert scores[entity].recall >= 0.95, scores[entity]


# -- logging ------------------------------------------------------------------------------------
def test_raw_identifier_never_reaches_a_log_file(tmp_path):
    path = tmp_path / "clinqa.log"
    handler = logging.FileHandler(path)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        flt = install_log_scrubbing()
        assert flt in handler.filters
        assert install_log_scrubbing() is flt and handler.filters.count(flt) == 1
        log = logging.getLogger("clinqa.test")
        log.warning("question from %s: MRN %s", "Pt John Smith", "00123456")
        try:
            raise ValueError("bad input: SSN 123-45-6789")
        except ValueError:
            log.exception("failed on %r", {"email": "john@example.org"})
    finally:
        root.removeHandler(handler)
        handler.close()
    written = path.read_text()
    for raw in ("John", "Smith", "00123456", "123-45-6789", "john@example.org"):
        assert raw not in written
    assert "<PERSON>" in written and "<MRN>" in written and "<SSN>" in written and "Traceback" in written


def test_filter_fails_closed():
    def broken(_: str) -> str:
        raise RuntimeError("boom")

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "MRN %s", ("00123456",), None)
    assert PhiScrubbingFilter(broken).filter(record)
    assert "00123456" not in record.getMessage() and "withheld" in record.getMessage()


# -- property test ------------------------------------------------------------------------------
_FRAGMENTS = st.sampled_from([
    "Pt ", "Mr. ", "Dr. ", "John Smith", "Smith", "MRN: ", "00123456", "03/14/1952", "555-123-4567", "x12",
    "jo@example.org", "123-45-6789", "1234 Oak Street", "age 95", ", ", "\n", " ", "Signed,\n", "Mary",
])
_TEXT = st.lists(st.one_of(st.text(max_size=12), _FRAGMENTS), max_size=12).map("".join)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_TEXT)
def test_property_spans_in_bounds_and_scrubbed(scrubber, text):
    spans = scrubber.find(text)
    out = scrubber.scrub(text)
    previous_end = 0
    for s in spans:
        assert previous_end <= s.start < s.end <= len(text)
        assert text[s.start:s.end] == s.text
        previous_end = s.end
    # No found identifier survives as a whole token in what is left between the placeholders.
    segments = re.split(r"<[A-Z_]+>", out)
    for s in spans:
        pattern = ("(?<!\\w)" if re.match(r"\w", s.text[0]) else "") + re.escape(s.text) + \
                  ("(?!\\w)" if re.match(r"\w", s.text[-1]) else "")
        assert not any(re.search(pattern, seg) for seg in segments), (text, s, out)
