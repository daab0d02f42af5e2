"""The shipped MPNet tagger (models/ner-mpnet, issue 12 item 8) on sentences of our own: it
loads from the int8 ONNX alone, finds chemicals and diseases with their character offsets,
and annotates passages at index time when named with `--ner-model`."""
import pytest

from common.paths import SHIPPED_MODELS
from indexer.annotate import AnnotateConfig, Annotator
from store import Passage
from tasks.ner import NerTagger

pytestmark = pytest.mark.integration

MODEL = SHIPPED_MODELS / "ner-mpnet"

# (sentence, mentions the tagger must find as (text, label))
CASES = [
    ("Cisplatin-induced nephrotoxicity was reduced by magnesium supplementation.",
     [("Cisplatin", "Chemical"), ("nephrotoxicity", "Disease"), ("magnesium", "Chemical")]),
    ("Patients with type 2 diabetes who took metformin rarely developed lactic acidosis.",
     [("type 2 diabetes", "Disease"), ("metformin", "Chemical"), ("lactic acidosis", "Disease")]),
    ("Haloperidol can cause tardive dyskinesia in elderly patients.",
     [("Haloperidol", "Chemical"), ("tardive dyskinesia", "Disease")]),
]


@pytest.fixture(scope="module")
def tagger():
    t = NerTagger(MODEL, threads=1)
    t.warm_up()
    return t


def test_ships_int8_onnx_and_runs_on_it(tagger):
    assert (MODEL / "model_int8.onnx").is_file() and (MODEL / "MODEL_CARD.md").is_file()
    assert tagger.backend_used == "onnx:model_int8.onnx"


@pytest.mark.parametrize("text,expected", CASES)
def test_finds_chemicals_and_diseases_with_offsets(tagger, text, expected):
    spans = tagger.tag([text])[0]
    found = {(s.text, s.label) for s in spans}
    for mention in expected:
        assert mention in found, (mention, found)
    for s in spans:
        assert text[s.start:s.end] == s.text and 0.0 < s.score <= 1.0


def test_annotates_passages_when_named_at_index_time():
    text = CASES[0][0]
    passage = Passage(chunk_id="c1", doc_id="d1", order=0, text=text, start=0, end=len(text), title="Nephrotoxicity")
    annotator = Annotator(AnnotateConfig(ner_model=str(MODEL), threads=1), show_progress=False).warm_up()
    mentions = annotator.entities([passage])["c1"]
    assert {(m.text, m.label) for m in mentions} >= {("Cisplatin", "Chemical"), ("nephrotoxicity", "Disease")}
