"""The shipped models on the cases a clinician reported (our own passages and questions of
each kind): the answer comes from the passage that answers, content-free questions are
refused, long case histories keep their question, numbers come out with their units.

These use the shipped reader and reranker (models/), so they guard the product, not a
tiny stand-in; each builds a ten-document index with the packaged MiniLM (seconds)."""
import json

import pytest

from indexer.writer import IndexWriter
from pipeline.engine import EngineConfig, QAEngine
from pipeline.errors import InvalidQuestionError
from retriever.rerank import RerankerConfig

pytestmark = pytest.mark.integration

DOCS = [
    ("glaucoma", "Open-angle glaucoma",
     "Open-angle glaucoma damages the optic nerve. The first-line treatment of open-angle glaucoma is a "
     "prostaglandin analogue eye drop such as latanoprost, which lowers intraocular pressure."),
    ("fever", "Fever in children",
     "Fever in children is usually caused by viral infections. Paracetamol or ibuprofen can be given for "
     "comfort; fluids prevent dehydration."),
    ("gout", "Gout",
     "Gout is an inflammatory arthritis caused by deposition of monosodium urate crystals in joints. "
     "Allopurinol lowers serum urate and prevents attacks."),
    ("asthma", "Asthma control",
     "Asthma is a chronic airway disease. Inhaled corticosteroids such as budesonide are the mainstay of "
     "controller therapy; salbutamol relieves acute symptoms."),
    ("hypothyroid", "Hypothyroidism",
     "Hypothyroidism is treated with levothyroxine. The dose is adjusted according to the serum TSH level "
     "measured six to eight weeks after a change."),
    ("pk", "Elimination of drug X",
     "In healthy volunteers the in vivo elimination half-life of drug X (t1/2 = 6.02 h) was about 2.8-fold "
     "longer than that of drug Y, so drug X can be given twice daily."),
    ("malaria", "Malaria prophylaxis",
     "Travellers to areas with chloroquine-resistant malaria should take atovaquone-proguanil or doxycycline "
     "as prophylaxis, starting before travel."),
    ("hf", "Heart failure",
     "In heart failure with reduced ejection fraction, beta-blockers such as bisoprolol reduce mortality. "
     "Loop diuretics such as furosemide relieve congestion."),
    ("uti", "Urinary tract infection",
     "Uncomplicated cystitis in women is commonly treated with nitrofurantoin for five days. Escherichia coli "
     "causes most urinary tract infections."),
    ("anaphylaxis", "Anaphylaxis",
     "Anaphylaxis is treated immediately with intramuscular adrenaline 0.5 mg into the anterolateral thigh, "
     "repeated after five minutes if needed."),
]
QUESTIONS = [
    ("What is the first-line treatment of open-angle glaucoma?", "glaucoma", "latanoprost"),
    ("What usually causes fever in children?", "fever", "viral infections"),
    ("Which drug lowers serum urate in gout?", "gout", "allopurinol"),
    ("What is the mainstay of asthma controller therapy?", "asthma", "inhaled corticosteroids"),
    ("What is hypothyroidism treated with?", "hypothyroid", "levothyroxine"),
    ("What is the in vivo elimination half-life of drug X?", "pk", "6.02 h"),
    ("What prophylaxis should travellers take against chloroquine-resistant malaria?", "malaria", "atovaquone-proguanil"),
    ("Which drugs reduce mortality in heart failure with reduced ejection fraction?", "hf", "beta-blockers"),
    ("What organism causes most urinary tract infections?", "uti", "escherichia coli"),
    ("What is the immediate treatment of anaphylaxis?", "anaphylaxis", "adrenaline"),
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("product")
    src = root / "docs.jsonl"
    src.write_text("".join(json.dumps({"id": i, "title": t, "text": x, "source": "demo"}) + "\n" for i, t, x in DOCS))
    IndexWriter(root / "index", show_progress=False).build([src])
    return root / "index"


# The product default reranks with the shipped models/reranker; without it, the first stage.
@pytest.fixture(scope="module", params=["reranked", "first-stage"])
def engine(request, index_dir):
    reranker = RerankerConfig() if request.param == "reranked" else None
    e = QAEngine(EngineConfig(index_dir=index_dir, reranker=reranker)).warm_up()
    yield e
    e.close()


def test_answers_come_from_the_passage_that_answers(engine):
    right_doc, right_text = 0, 0
    for q, doc, needle in QUESTIONS:
        res = engine.ask(q)
        top = res.answers[0]
        right_doc += top.answer.passage.doc_id == doc
        right_text += needle in top.answer.text.casefold() or top.answer.text.casefold() in needle
    assert right_doc >= 9, f"{right_doc}/10 answers from the answering document"
    assert right_text >= 7, f"{right_text}/10 answers contain the expected text"


def test_wrong_document_answers_are_not_confident(engine):
    for q, doc, _ in QUESTIONS:
        res = engine.ask(q)
        for r in res.answers:
            if r.answer.passage.doc_id != doc:
                assert r.final_score < res.no_answer_threshold, (q, r.answer.text, r.final_score)


def test_numbers_keep_their_units(engine):
    res = engine.ask("What is the in vivo elimination half-life of drug X?")
    assert any("6.02 h" in r.answer.text for r in res.answers)
    assert all(not r.answer.text.endswith(("6.0", "6.02")) for r in res.answers)


@pytest.mark.parametrize("q", ["what is the", "What is it?", "???"])
def test_content_free_questions_are_refused(engine, q):
    with pytest.raises(InvalidQuestionError):
        engine.ask(q)


def test_a_long_case_history_keeps_its_question(engine):
    history = ("A 67-year-old retired teacher was admitted after three weeks of exertional dyspnoea, orthopnoea, "
               "paroxysmal nocturnal dyspnoea and bilateral ankle oedema. She has long-standing hypertension, type 2 "
               "diabetes on metformin, stage 3 chronic kidney disease and osteoarthritis of both knees. She smoked "
               "twenty cigarettes a day until ten years ago and drinks little alcohol. On examination her pulse was "
               "irregular at 110 per minute, blood pressure 150/90 mmHg, jugular venous pressure raised by 6 cm, with "
               "bibasal crackles and pitting oedema to the knees. The chest film showed cardiomegaly and upper lobe "
               "diversion; the ECG showed atrial fibrillation; NT-proBNP was 4,200 pg/mL; echocardiography showed a "
               "dilated left ventricle with an ejection fraction of 30 percent and moderate mitral regurgitation. "
               "Intravenous furosemide improved her breathing over two days.")
    res = engine.ask(history + " Which drugs reduce mortality in heart failure with reduced ejection fraction?")
    assert res.notes and "last sentence" in res.notes[0]
    assert res.answers[0].answer.passage.doc_id == "hf"
