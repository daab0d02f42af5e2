"""Verdict aggregation and abstention (tasks.verdict), relevance weights (pipeline.yesno)
and question type detection (pipeline.question_type): pure functions, no models."""
from types import MappingProxyType, SimpleNamespace

import pytest

from pipeline.question_type import QUESTION_TYPES, check_question_type, detect_question_type
from pipeline.yesno import evidence_weight, judge
from retriever.types import Hit
from store.types import Passage
from tasks.verdict import (
    ABSTAIN_MESSAGE,
    PassageEvidence,
    VerdictConfig,
    aggregate,
    passage_role,
    restrict,
    top_label,
)

pytestmark = pytest.mark.unit

YES = {"yes": 0.9, "no": 0.05, "maybe": 0.05}
NO = {"yes": 0.05, "no": 0.9, "maybe": 0.05}
MAYBE = {"yes": 0.2, "no": 0.2, "maybe": 0.6}
FLAT = {"yes": 0.36, "no": 0.33, "maybe": 0.31}


def ev(probs, w, cid=None):
    return PassageEvidence(cid or f"c{id(probs) % 1000}-{w}", probs, w)


def test_agreeing_passages_give_a_confident_verdict():
    v = aggregate([ev(YES, 1.0, "a"), ev(YES, 0.5, "b"), ev(FLAT, 0.2, "c")])
    assert v.label == "yes" and not v.abstained and v.reason == ""
    assert v.probability == pytest.approx((0.9 * 1.0 + 0.9 * 0.5 + 0.36 * 0.2) / 1.7)
    assert [e.role for e in v.evidence] == ["supports", "supports", "neutral"]
    assert abs(sum(v.probabilities.values()) - 1) < 1e-9


def test_relevance_decides_between_opposing_passages():
    v = aggregate([ev(YES, 0.9, "a"), ev(NO, 0.1, "b")], VerdictConfig(max_conflict=0.5))
    assert v.label == "yes" and not v.abstained
    assert [e.role for e in v.evidence] == ["supports", "contradicts"]
    flipped = aggregate([ev(YES, 0.1, "a"), ev(NO, 0.9, "b")], VerdictConfig(max_conflict=0.5))
    assert flipped.label == "no" and [e.role for e in flipped.evidence] == ["contradicts", "supports"]


def test_disagreement_abstains():
    v = aggregate([ev(YES, 0.6, "a"), ev(NO, 0.4, "b")])
    assert v.abstained and v.reason == "conflict" and v.label == "yes"
    assert v.message.startswith(ABSTAIN_MESSAGE)


def test_weak_evidence_abstains():
    v = aggregate([ev(FLAT, 1.0, "a"), ev(FLAT, 1.0, "b")])
    assert v.abstained and v.reason == "weak" and all(e.role == "neutral" for e in v.evidence)


def test_no_evidence_or_no_relevance_abstains():
    assert aggregate([]).reason == "no_evidence" and aggregate([]).abstained
    zero = aggregate([ev(YES, 0.0, "a")])
    assert zero.abstained and zero.reason == "no_evidence"
    low = aggregate([ev(YES, 0.2, "a")], VerdictConfig(min_total_weight=0.5))
    assert low.abstained and low.reason == "no_evidence"
    neg = aggregate([ev(YES, -3.0, "a"), ev(NO, 1.0, "b")])
    assert neg.label == "no" and neg.evidence[0].weight == 0.0  # negative relevance counts as none


def test_maybe_is_a_verdict_and_can_be_excluded():
    v = aggregate([ev(MAYBE, 1.0, "a"), ev(MAYBE, 1.0, "b")])
    assert v.label == "maybe" and not v.abstained and [e.role for e in v.evidence] == ["supports", "supports"]
    binary = aggregate([ev(MAYBE, 1.0, "a")], VerdictConfig(labels=("yes", "no"), min_probability=0.0))
    assert binary.label in ("yes", "no") and set(binary.probabilities) == {"yes", "no"}


def test_helpers_and_config_validation():
    assert restrict({"yes": 0.2, "no": 0.2, "maybe": 0.6}, ("yes", "no")) == {"yes": 0.5, "no": 0.5}
    assert restrict({}, ("yes", "no")) == {"yes": 0.5, "no": 0.5}
    assert top_label({"yes": 0.4, "no": 0.4, "maybe": 0.2}) == ("yes", 0.4)  # ties: the earlier label
    cfg = VerdictConfig()
    assert passage_role("no", 0.9, "yes", cfg) == "contradicts"
    assert passage_role("no", 0.4, "yes", cfg) == "neutral"
    assert passage_role("maybe", 0.9, "yes", cfg) == "neutral"
    for bad in (dict(min_probability=1.5), dict(max_conflict=-0.1), dict(labels=("yes", "perhaps")),
                dict(labels=()), dict(min_total_weight=-1)):
        with pytest.raises(ValueError):
            VerdictConfig(**bad)
    d = aggregate([ev(YES, 1.0, "a")]).to_dict()
    assert set(d) >= {"label", "probability", "abstained", "evidence"}
    assert set(d["evidence"][0]) >= {"chunk_id", "label", "probability", "weight", "role"}


def _hit(cid, score, **extra):
    p = Passage(cid, "d", 0, f"text {cid}", 0, 6)
    return Hit(p, score, MappingProxyType({}), MappingProxyType({}), **extra)


def test_weight_is_the_reranker_probability_when_present_else_the_fused_score():
    assert evidence_weight(_hit("a", 0.7)) == 0.7
    assert evidence_weight(_hit("a", 0.7, rerank_score=-1.4, rerank_probability=0.2)) == 0.2
    assert evidence_weight(_hit("a", -0.5)) == 0.0


def test_judge_uses_the_top_passages_with_their_weights():
    class Fixed:
        def predict(self, question, texts):
            return [YES if t.endswith("a") or t.endswith("b") else NO for t in texts]

    hits = [_hit("a", 0.9), _hit("b", 0.8), _hit("c", 0.1), _hit("d", 0.05)]
    v = judge(Fixed(), "Is it?", hits, passages=2)
    assert v.label == "yes" and [e.chunk_id for e in v.evidence] == ["a", "b"]
    assert [e.weight for e in v.evidence] == [0.9, 0.8]
    assert judge(Fixed(), "Is it?", []).abstained


@pytest.mark.parametrize("question,expected", [
    ("Is metformin safe during pregnancy?", "yesno"),
    ("Does aspirin reduce mortality after myocardial infarction?", "yesno"),
    ("Can statins cause muscle pain", "yesno"),
    ("In adults with chronic kidney disease, is metformin contraindicated?", "yesno"),
    ("Are there any benefits of vitamin D in asthma?", "yesno"),
    ("Should patients with atrial fibrillation receive anticoagulation?", "yesno"),
    ("Metformin causes lactic acidosis, yes or no?", "yesno"),
    ("Is warfarin or apixaban more effective for stroke prevention?", "factoid"),
    ("Which drug is first-line for type 2 diabetes?", "factoid"),
    ("What is the most common cause of community-acquired pneumonia?", "factoid"),
    ("How many people have glaucoma in the United States?", "factoid"),
    ("Who discovered insulin?", "factoid"),
    ("List the symptoms of glaucoma.", "list"),
    ("What are the side effects of lisinopril?", "list"),
    ("Which genes are associated with Lynch syndrome?", "list"),
    ("Name three inhibitors of PCSK9.", "list"),
    ("What is gout?", "other"),
    ("How does metformin work?", "other"),
    ("Why do beta blockers cause fatigue?", "other"),
    ("Describe the management of diabetic ketoacidosis.", "other"),
    ("", "other"),
])
def test_question_types_of_our_own_questions(question, expected):
    assert detect_question_type(question) == expected


def test_type_override_is_checked():
    assert check_question_type(None) is None
    assert check_question_type("Yes/No") == "yesno" and check_question_type("factoid") == "factoid"
    with pytest.raises(ValueError, match="yesno, factoid, list, other"):
        check_question_type("summary")
    assert set(QUESTION_TYPES) == {"yesno", "factoid", "list", "other"}


@pytest.mark.parametrize("text", ["|", "?", "...", "   ", "1234", "¿", "是吗?"])
def test_question_type_of_symbols_or_other_scripts_is_other(text):
    assert detect_question_type(text) == "other"


def test_question_type_never_raises_on_any_text():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=120))
    def check(text):
        assert detect_question_type(text) in QUESTION_TYPES

    check()
