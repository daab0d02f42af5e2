"""Index-time annotation: entity mentions and document categories stored, filtered on, shown."""
import json
import re
from pathlib import Path

import pytest

from indexer.annotate import AnnotateConfig
from indexer.errors import IndexerError
from indexer.manifest import IndexMismatchError
from indexer.loaded import open_index
from indexer.manifest import read_manifest
from indexer.writer import IndexConfig, IndexWriter
from retriever import SearchFilter
from store import Category, Document, DocumentStore, Mention, Passage, StoreConfig, chunk_id_for
from tasks.testing import make_tiny_base, make_tiny_sequence_classifier, make_tiny_token_classifier
from ui.render import highlight, mark_spans, render_entity_legend, render_source

DOCS = [
    {"id": "metformin", "title": "Metformin", "source": "demo",
     "text": "Metformin is the first-line drug for type 2 diabetes. Lactic acidosis is a rare adverse effect."},
    {"id": "insulin", "title": "Insulin", "source": "demo",
     "text": "Insulin glargine is a long-acting insulin for diabetes. Hypoglycemia is the main risk."},
    {"id": "glaucoma", "title": "Glaucoma", "source": "other",
     "text": "Glaucoma damages the optic nerve. Timolol eye drops lower intraocular pressure."},
]
# A dictionary tagger stands in for a trained NER model's decisions, so the assertions below
# can name exact entities; the real model path (tiny random BERT) is exercised separately.
LEXICON = {"metformin": "Chemical", "lactic acidosis": "Disease", "insulin glargine": "Chemical", "insulin": "Chemical",
           "diabetes": "Disease", "hypoglycemia": "Disease", "glaucoma": "Disease", "timolol": "Chemical"}


def lexicon_tag(self, texts):
    from tasks.ner import EntitySpan

    out = []
    for text in texts:
        spans, taken = [], set()
        for term in sorted(LEXICON, key=len, reverse=True):
            for m in re.finditer(rf"\b{re.escape(term)}\b", text, flags=re.I):
                if not taken & set(range(m.start(), m.end())):
                    taken |= set(range(m.start(), m.end()))
                    spans.append(EntitySpan(m.start(), m.end(), LEXICON[term], m.group(), 0.9))
        out.append(sorted(spans, key=lambda s: s.start))
    return out


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    base = make_tiny_base(root / "base")
    ner = make_tiny_token_classifier(root / "ner", base=base)
    cls = make_tiny_sequence_classifier(root / "cls", labels=("C14", "C18"), base=base)
    info = json.loads((cls / "task.json").read_text())
    info["label_names"] = {"C14": "Cardiovascular Diseases", "C18": "Nutritional and Metabolic Diseases"}
    (cls / "task.json").write_text(json.dumps(info))
    return ner, cls


def _jsonl(path: Path, docs) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def annotated(tmp_path_factory, tiny_models):
    mp = pytest.MonkeyPatch()
    mp.setattr("tasks.ner.NerTagger.tag", lexicon_tag)
    root = tmp_path_factory.mktemp("ann")
    ner, cls = tiny_models
    cfg = IndexConfig(annotate=AnnotateConfig(ner_model=str(ner), classifier_model=str(cls)))
    IndexWriter(root / "index", cfg, show_progress=False).build([_jsonl(root / "docs.jsonl", DOCS[:2])])
    yield root, mp
    mp.undo()


def _chunk_docs(index_dir, where):
    idx = open_index(index_dir)
    try:
        ids = idx.backend.search_text("diabetes insulin metformin glaucoma drops", 10, where=where)
        return {p.doc_id for p in idx.backend.passages([c for c, _ in ids]).values()}
    finally:
        idx.close()


@pytest.mark.integration
def test_build_stores_mentions_and_categories(annotated):
    root, _ = annotated
    index_dir = root / "index"
    m = json.loads((index_dir / "manifest.json").read_text())
    assert m["annotations"]["ner_model"].endswith("ner") and m["annotations"]["classifier_model"].endswith("cls")
    assert m["counts"]["entity_mentions"] == 7 and m["counts"]["categorised_documents"] == 2
    idx = open_index(index_dir)
    try:
        chunk_ids = [c for c, _ in idx.backend.search_text("metformin", 5)]
        p = idx.backend.passages(chunk_ids)[chunk_ids[0]]
        assert p.doc_id == "metformin"
        assert [(e.text, e.label) for e in p.entities] == [
            ("Metformin", "Chemical"), ("diabetes", "Disease"), ("Lactic acidosis", "Disease")]
        assert all(p.text[e.start:e.end] == e.text for e in p.entities)
        assert p.category is not None and p.category.label in {"C14", "C18"} and 0.0 < p.category.probability <= 1.0
        assert p.category.name in {"Cardiovascular Diseases", "Nutritional and Metabolic Diseases"}
        counts = idx.backend.entity_counts(10)
        assert ("diabetes", "Disease", 2) in counts
        assert sum(n for _, _, n in idx.backend.category_counts()) == 2
    finally:
        idx.close()


@pytest.mark.integration
def test_entity_and_category_filters(annotated):
    root, _ = annotated
    index_dir = root / "index"
    assert _chunk_docs(index_dir, SearchFilter(entities=("metformin",))) == {"metformin"}
    assert _chunk_docs(index_dir, SearchFilter(entities=("METFORMIN ",))) == {"metformin"}  # normalised
    assert _chunk_docs(index_dir, SearchFilter(entities=("diabetes",))) == {"metformin", "insulin"}
    # all entities must appear
    assert _chunk_docs(index_dir, SearchFilter(entities=("diabetes", "hypoglycemia"))) == {"insulin"}
    # whole words inside a longer mention match ("insulin" in "insulin glargine"); parts of words do not
    assert _chunk_docs(index_dir, SearchFilter(entities=("glargine",))) == {"insulin"}
    assert _chunk_docs(index_dir, SearchFilter(entities=("metform",))) == set()
    assert _chunk_docs(index_dir, SearchFilter(entities=("aspirin",))) == set()
    idx = open_index(index_dir)
    try:
        label = idx.backend.category_counts()[0][0]
        cats = {p.doc_id: p.category.label for p in idx.backend.passages(
            [c for c, _ in idx.backend.search_text("diabetes", 10)]).values()}
    finally:
        idx.close()
    assert _chunk_docs(index_dir, SearchFilter(categories=(label,))) == {d for d, c in cats.items() if c == label}
    assert _chunk_docs(index_dir, SearchFilter(categories=("C99",))) == set()
    # dense leg honours the same filter
    from indexer.dense import DenseEncoder

    idx = open_index(index_dir)
    try:
        vec = DenseEncoder().encode(["diabetes drug"])[0]
        hits = idx.backend.search_vector(vec, 10, where=SearchFilter(entities=("hypoglycemia",)))
        assert {idx.backend.passages([c])[c].doc_id for c, _ in hits} == {"insulin"}
    finally:
        idx.close()


@pytest.mark.integration
def test_a_library_add_naming_other_annotation_models_is_refused(annotated, tiny_models, tmp_path):
    """The writer, not only the CLI, refuses an `add` whose config names models other than the
    index's own (before, a library caller's models were silently replaced by the index's)."""
    import shutil

    root, _ = annotated
    index_dir = tmp_path / "index"
    shutil.copytree(root / "index", index_dir)
    ner, cls = tiny_models
    other = tmp_path / "other-ner"
    shutil.copytree(ner, other)
    more = _jsonl(tmp_path / "more.jsonl", DOCS[2:])
    for wrong in (AnnotateConfig(ner_model=str(other)), AnnotateConfig(classifier_model=str(other))):
        with pytest.raises(IndexMismatchError, match="built with"):
            IndexWriter(index_dir, IndexConfig(annotate=wrong), show_progress=False).add([more])
    assert read_manifest(index_dir)["counts"]["documents"] == 2  # nothing was added
    own = AnnotateConfig(ner_model=str(ner), classifier_model=str(cls))
    report = IndexWriter(index_dir, IndexConfig(annotate=own), show_progress=False).add([more])
    assert report.added == ("glaucoma",)


def test_add_and_remove_keep_annotations_in_step(annotated, tmp_path):
    import shutil

    root, _ = annotated
    index_dir = tmp_path / "index"
    shutil.copytree(root / "index", index_dir)
    # `add` reuses the manifest's models even when the writer is given none
    report = IndexWriter(index_dir, show_progress=False).add([_jsonl(tmp_path / "more.jsonl", DOCS[2:])])
    assert report.added == ("glaucoma",)
    assert report.manifest["counts"]["entity_mentions"] == 7 + 2
    assert report.manifest["counts"]["categorised_documents"] == 3
    assert _chunk_docs(index_dir, SearchFilter(entities=("timolol",))) == {"glaucoma"}
    # an updated document is re-tagged; its old mentions go with its old chunks
    changed = dict(DOCS[0], text="Metformin lowers glucose.")
    IndexWriter(index_dir, show_progress=False).add([_jsonl(tmp_path / "upd.jsonl", [changed])])
    assert _chunk_docs(index_dir, SearchFilter(entities=("lactic acidosis",))) == set()
    assert _chunk_docs(index_dir, SearchFilter(entities=("metformin",))) == {"metformin"}
    report = IndexWriter(index_dir, show_progress=False).remove(["metformin"])
    assert report.manifest["counts"]["entity_mentions"] == 9 - 3 + 1 - 1  # update: 3 out, 1 in; remove: 1 out
    assert report.manifest["counts"]["categorised_documents"] == 2
    assert _chunk_docs(index_dir, SearchFilter(entities=("metformin",))) == set()


@pytest.mark.integration
def test_add_refuses_when_the_build_model_is_gone(tmp_path, tiny_models):
    import shutil

    ner, _ = tiny_models
    moved = tmp_path / "ner"
    shutil.copytree(ner, moved)
    cfg = IndexConfig(annotate=AnnotateConfig(ner_model=str(moved)))
    IndexWriter(tmp_path / "index", cfg, show_progress=False).build([_jsonl(tmp_path / "a.jsonl", DOCS[:1])])
    shutil.rmtree(moved)
    before = (tmp_path / "index" / "manifest.json").read_text()
    with pytest.raises(IndexerError) as err:
        IndexWriter(tmp_path / "index", show_progress=False).add([_jsonl(tmp_path / "b.jsonl", DOCS[1:2])])
    assert "ner model not found" in err.value.message and "--no-annotate" in err.value.hint
    assert (tmp_path / "index" / "manifest.json").read_text() == before  # old index still serving


@pytest.fixture
def fake_checkout(tmp_path, monkeypatch):
    """A checkout (HOME) whose models/ holds the default NER folder and one more, and a working
    directory outside it."""
    import indexer.annotate
    import tasks.shipped

    home = tmp_path / "checkout"
    for folder in ("ner", "ner-x"):
        (home / "models" / folder).mkdir(parents=True)
        (home / "models" / folder / "config.json").write_text("{}")
    monkeypatch.setattr(tasks.shipped, "MODELS_DIR", home / "models")
    monkeypatch.setattr(tasks.shipped, "SHIPPED_NER_DIR", home / "models" / "ner")
    monkeypatch.setattr(indexer.annotate, "HOME", home)
    (tmp_path / "outside").mkdir()
    return home


@pytest.mark.unit
def test_manifest_records_models_so_add_finds_them_from_anywhere(tmp_path, fake_checkout, monkeypatch):
    from indexer.annotate import describe_model, manifest_model_ref, resolve_model

    models = fake_checkout / "models"
    (tmp_path / "runs" / "ner").mkdir(parents=True)
    for where in (fake_checkout, tmp_path / "outside"):  # typed inside the checkout or outside it
        monkeypatch.chdir(where)
        assert manifest_model_ref(None, "ner") is None and manifest_model_ref("shipped", "ner") == "shipped"
        assert manifest_model_ref("models/ner-x", "ner") == "shipped:ner-x"  # shipped folder: portable
        assert manifest_model_ref("models/ner", "ner") == "shipped"  # the default, by its path
        assert manifest_model_ref(str(models / "ner-x"), "ner") == "shipped:ner-x"
        assert AnnotateConfig(ner_model="models/ner-x").to_manifest()["ner_model"] == "shipped:ner-x"
        assert resolve_model("shipped:ner-x", "ner") == models / "ner-x"
        assert resolve_model("models/ner-x", "ner").resolve() == (models / "ner-x").resolve()  # old manifests
    monkeypatch.chdir(tmp_path)
    assert manifest_model_ref("runs/ner", "ner") == str(tmp_path / "runs" / "ner")  # elsewhere: absolute
    assert manifest_model_ref("gone/ner", "ner") == "gone/ner"  # points nowhere: kept, not guessed
    assert describe_model("shipped:ner-x", "ner") == f"shipped:ner-x = {models / 'ner-x'}"
    with pytest.raises(IndexerError) as err:
        resolve_model("shipped:gone", "ner")
    assert "index add uses the models the index was built with" in err.value.hint


@pytest.mark.integration
def test_add_from_another_directory_uses_the_build_models(tmp_path, tiny_models, monkeypatch, capsys):
    """Reported: an index built with `--ner-model models/ner-mpnet` (a relative path, as the docs
    say) could not take new documents with `index add` run from any other directory, and the
    --ner-model / --no-annotate that the error's hint suggested were silently ignored."""
    import shutil

    import tasks.shipped
    from ui.cli import main

    ner, cls = tiny_models
    checkout = tmp_path / "checkout"
    shutil.copytree(ner, checkout / "models" / "ner-tiny")
    shutil.copytree(cls, tmp_path / "elsewhere" / "cls")
    monkeypatch.setattr(tasks.shipped, "MODELS_DIR", checkout / "models")
    monkeypatch.chdir(checkout)
    index_dir = str(tmp_path / "index")
    assert main(["index", "build", "--index", index_dir, "--ner-model", "models/ner-tiny", "--classifier",
                 "../elsewhere/cls", "--quiet", str(_jsonl(tmp_path / "a.jsonl", DOCS[:1]))]) == 0
    annotations = json.loads((tmp_path / "index" / "manifest.json").read_text())["annotations"]
    assert annotations == {"ner_model": "shipped:ner-tiny", "classifier_model": str(tmp_path / "elsewhere" / "cls")}
    monkeypatch.chdir(tmp_path / "elsewhere")
    before = (tmp_path / "index" / "manifest.json").read_text()
    for flags, says in ((["--ner-model", "other"], "not other"), (["--no-annotate"], "built with annotations")):
        assert main(["index", "add", "--index", index_dir, *flags, "--quiet", str(_jsonl(tmp_path / "b.jsonl", DOCS[1:2]))]) == 1
        err = capsys.readouterr().err
        assert says in err and f"clinqa index build --index {index_dir} {flags[0]}" in err  # a command to copy
        assert (tmp_path / "index" / "manifest.json").read_text() == before  # refused before any change
    assert main(["index", "add", "--index", index_dir, "--ner-model", str(checkout / "models" / "ner-tiny"),
                 "--quiet", str(_jsonl(tmp_path / "b.jsonl", DOCS[1:2]))]) == 0  # the index's own model: fine
    counts = json.loads((tmp_path / "index" / "manifest.json").read_text())["counts"]
    assert counts["documents"] == 2 and counts["categorised_documents"] == 2


@pytest.mark.integration
def test_build_outside_the_checkout_and_old_relative_manifests_keep_working(tmp_path, tiny_models, monkeypatch):
    """Second fresh-clone check: `--ner-model models/X` typed outside the checkout (found there via
    the checkout / CLINQA_HOME) was recorded as a path under the working directory, and an old
    manifest's relative path was rewritten that way by the first `add`: every later add failed."""
    import shutil

    import indexer.annotate
    import tasks.shipped
    from ui.cli import main

    ner, cls = tiny_models
    home = tmp_path / "checkout"
    shutil.copytree(ner, home / "models" / "ner-tiny")
    shutil.copytree(cls, home / "models" / "classifier")
    monkeypatch.setattr(tasks.shipped, "MODELS_DIR", home / "models")
    monkeypatch.setattr(tasks.shipped, "SHIPPED_CLASSIFIER_DIR", home / "models" / "classifier")
    monkeypatch.setattr(indexer.annotate, "HOME", home)
    monkeypatch.chdir(tmp_path)
    index_dir = str(tmp_path / "index")
    assert main(["index", "build", "--index", index_dir, "--ner-model", "models/ner-tiny", "--classifier",
                 "models/classifier", "--quiet", str(_jsonl(tmp_path / "a.jsonl", DOCS[:1]))]) == 0
    manifest_path = tmp_path / "index" / "manifest.json"
    assert json.loads(manifest_path.read_text())["annotations"] == {"ner_model": "shipped:ner-tiny",
                                                                      "classifier_model": "shipped"}
    manifest = json.loads(manifest_path.read_text())
    manifest["annotations"]["ner_model"] = "models/ner-tiny"  # as an older clinqa recorded it
    manifest_path.write_text(json.dumps(manifest))
    for i, doc in enumerate(DOCS[1:]):  # twice: the first add must not leave a path the second cannot find
        assert main(["index", "add", "--index", index_dir, "--classifier", "models/classifier", "--quiet",
                     str(_jsonl(tmp_path / f"more{i}.jsonl", [doc]))]) == 0  # the default classifier, by path
    manifest = json.loads(manifest_path.read_text())
    assert manifest["annotations"]["ner_model"] == "shipped:ner-tiny" and manifest["counts"]["documents"] == 3


@pytest.mark.integration
def test_real_tiny_ner_model_gives_well_formed_mentions(tmp_path, tiny_models):
    ner, cls = tiny_models
    cfg = IndexConfig(annotate=AnnotateConfig(ner_model=str(ner), classifier_model=str(cls)))
    report = IndexWriter(tmp_path / "index", cfg, show_progress=False).build([_jsonl(tmp_path / "a.jsonl", DOCS)])
    idx = open_index(tmp_path / "index")
    try:
        passages = idx.backend.passages([c for c, _ in idx.backend.search_text("diabetes glaucoma insulin", 10)])
        assert passages and all(p.category is not None for p in passages.values())
        n = 0
        for p in passages.values():
            for e in p.entities:
                n += 1
                assert p.text[e.start:e.end] == e.text and e.label in {"Chemical", "Disease"}
        assert n == report.manifest["counts"]["entity_mentions"]
    finally:
        idx.close()


@pytest.mark.unit
def test_store_mention_matching_and_old_databases(tmp_path):
    store = DocumentStore(StoreConfig(f"sqlite:///{tmp_path / 'a.db'}")).open(create=True)
    doc = Document("d1", "T", "Aspirin 100% and low_dose aspirin.")
    p = Passage(chunk_id_for("d1", 0, doc.text), "d1", 0, doc.text, 0, len(doc.text))
    store.upsert([(doc, [p])])
    store.add_mentions({p.chunk_id: [Mention(0, 12, "Chemical", "Aspirin 100%"), Mention(17, 25, "Chemical", "low_dose")]})
    store.set_categories({"d1": Category("C14", 0.7, "Cardiovascular Diseases")})
    assert store.chunks_mentioning("aspirin") == {p.chunk_id}
    assert store.chunks_mentioning("100%") == {p.chunk_id}
    assert store.chunks_mentioning("low_dose") == {p.chunk_id}
    assert store.chunks_mentioning("low dose") == set()  # LIKE wildcards are escaped
    assert store.chunks_mentioning("%") == set() and store.chunks_mentioning("") == set()
    got = store.passages([p.chunk_id])[p.chunk_id]
    assert got.category == Category("C14", 0.7, "Cardiovascular Diseases") and len(got.entities) == 2
    store.remove(["d1"])
    assert store.count_mentions() == 0 and store.count_categorised() == 0
    store.close()
    # a database written before annotation tables existed reads as "no annotations"
    import sqlite3

    old = tmp_path / "old.db"
    con = sqlite3.connect(old)
    con.execute("CREATE TABLE documents (doc_id TEXT PRIMARY KEY)")
    con.commit()
    con.close()
    legacy = DocumentStore(StoreConfig(f"sqlite:///{old}")).open()
    assert legacy.chunks_mentioning("aspirin") == set() and legacy.category_counts() == []
    with pytest.raises(Exception, match="rebuild"):
        legacy.add_mentions({"x": []})
    legacy.close()


@pytest.mark.unit
def test_filter_and_rendering_helpers():
    assert SearchFilter.of(["demo", " ", "demo"], None, []) == SearchFilter(sources=("demo",))
    assert SearchFilter.of(None, [""], None) is None
    assert not SearchFilter() and SearchFilter(entities=("x",))
    text = "Metformin causes <b>lactic acidosis</b>."
    ents = [Mention(0, 9, "Chemical", "Metformin"), Mention(20, 35, "Disease", "lactic acidosis")]
    html = highlight(text, 17, 39, ents)
    assert '<span class="cq-ent cq-ent-chemical" title="Chemical">Metformin</span>' in html
    assert ('<mark>&lt;b&gt;<span class="cq-ent cq-ent-disease" title="Disease">lactic acidosis</span>&lt;/b&gt;'
            "</mark>") in html
    assert html.count("<mark>") == 1 and "<b>" not in html
    # an entity crossing the answer's edge is split there, keeping the HTML nested
    crossing = highlight("aspirin dose", 4, 12, [Mention(0, 7, "Chemical", "aspirin")])
    assert crossing == ('<span class="cq-ent cq-ent-chemical" title="Chemical">aspi</span><mark>'
                        '<span class="cq-ent cq-ent-chemical" title="Chemical">rin</span> dose</mark>')
    assert mark_spans("abc", None, [Mention(5, 9, "X", "")]) == "abc"  # out-of-range offsets are clamped away
    legend = render_entity_legend([Passage("c", "d", 0, text, 0, len(text), entities=tuple(ents))])
    assert "Chemical" in legend and "Disease" in legend
    assert render_entity_legend([]) == ""
    p = Passage("c", "d", 0, text, 0, len(text), category=Category("C14", 0.82, "Cardiovascular <Diseases>"))
    assert "category: C14 Cardiovascular &lt;Diseases&gt; (82%)" in render_source(p)


@pytest.mark.integration
def test_cli_filters_and_info(annotated, capsys):
    from ui.cli import main

    root, _ = annotated
    index_dir = str(root / "index")
    assert main(["search", "--index", index_dir, "drug for diabetes", "--mode", "bm25", "--entity", "metformin", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {h["doc_id"] for h in out["hits"]} == {"metformin"}
    ents = {(e["text"], e["label"]) for h in out["hits"] for e in h["entities"]}
    assert ("Metformin", "Chemical") in ents and out["hits"][0]["category"]["label"] in {"C14", "C18"}
    assert main(["search", "--index", index_dir, "drug for diabetes", "--mode", "bm25", "--entity", "aspirin"]) == 0
    out = capsys.readouterr().out  # issue 14: the filter is named, and the question without it finds passages
    assert "No passage passes the filters (entity: aspirin)" in out and "without them this question finds" in out
    assert main(["index", "info", "--index", index_dir, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"entity": "diabetes", "label": "Disease", "passages": 2} in info["top_entities"]
    assert sum(c["documents"] for c in info["categories"]) == 2
    assert main(["index", "info", "--index", index_dir]) == 0
    text = capsys.readouterr().out
    assert "7 mentions" in text and "2 documents categorised" in text


@pytest.mark.unit
def test_cli_build_defaults_to_shipped_models_unless_told(monkeypatch, tmp_path):
    import argparse

    import tasks.shipped
    from ui.cli import _annotate_config

    import indexer.annotate

    ns = argparse.Namespace(no_annotate=False, ner_model=None, classifier=None)
    monkeypatch.setattr(tasks.shipped, "shipped_ner", lambda: tmp_path)
    monkeypatch.setattr(tasks.shipped, "shipped_classifier", lambda: None)
    monkeypatch.setattr(indexer.annotate, "bundled_cache_path", lambda: tmp_path / "none.jsonl.gz")
    assert _annotate_config(ns) == AnnotateConfig(ner_model="shipped", classifier_model=None)
    assert _annotate_config(argparse.Namespace(no_annotate=True, ner_model="x", classifier="y")) == AnnotateConfig()
    assert _annotate_config(argparse.Namespace(no_annotate=False, ner_model="x", classifier="y")) == AnnotateConfig("x", "y")
    (tmp_path / "cache.jsonl.gz").write_bytes(b"")
    monkeypatch.setattr(indexer.annotate, "bundled_cache_path", lambda: tmp_path / "cache.jsonl.gz")
    assert _annotate_config(ns).cache == str(tmp_path / "cache.jsonl.gz")


@pytest.mark.integration
def test_web_ask_filters_by_entity_and_category_and_highlights(annotated):
    from pipeline.engine import EngineConfig, QAEngine
    from reader.config import ReaderConfig
    from reader.testing import make_tiny_qa_model
    from ui.web import ServeConfig, WebApp

    root, _ = annotated
    index_dir = root / "index"
    reader = ReaderConfig(model=str(make_tiny_qa_model(root / "reader")), backend="torch", no_answer_threshold=0.0)
    web = WebApp(QAEngine(EngineConfig(index_dir=index_dir, reader=reader)).warm_up(), ServeConfig(index_dir=index_dir))
    try:
        html, _ = web.ask("What is the risk?", 5, "hybrid", [], None, entities="hypoglycemia")
        assert "Insulin" in html and "Metformin" not in html
        assert 'class="cq-ent cq-ent-disease" title="Disease">Hypoglycemia</span>' in html
        assert "Entities found at index time" in html and "category: C1" in html
        html, _ = web.ask("What is the risk?", 5, "hybrid", [], None, entities="diabetes, lactic acidosis")
        assert "Metformin" in html and "Insulin" not in html  # comma-separated = all of them
        choices = web.categories()
        assert sum(int(text.rsplit("(", 1)[1].rstrip(")")) for text, _ in choices) == 2
        label = choices[0][1]
        html, _ = web.ask("What is the risk?", 5, "hybrid", [], None, categories=[label])
        assert 'data-state="answers"' in html
        html, _ = web.ask("What is the risk?", 5, "hybrid", [], None, categories=["C99"])
        assert 'data-reason="filters"' in html and "(category: C99;" in html  # named, and tried without
        assert "this index has no category &#x27;C99&#x27;" in html  # and said to be unknown to this index
        assert "7 mentions" in web.index_info() and "2 documents categorised" in web.index_info()
    finally:
        web.engine.close()


@pytest.mark.integration
def test_annotation_cache_is_used_only_for_the_same_models(tmp_path, tiny_models, monkeypatch):
    from indexer.annotate import AnnotationCache, Annotator
    from indexer.loaders import load_documents

    ner, cls = tiny_models
    monkeypatch.setattr("tasks.ner.NerTagger.tag", lexicon_tag)
    src = _jsonl(tmp_path / "docs.jsonl", DOCS)
    docs = load_documents([src]).documents
    writer = IndexWriter(tmp_path / "unused", show_progress=False)
    passages = [p for _, ps in writer.chunk(docs) for p in ps]
    ann = Annotator(AnnotateConfig(ner_model=str(ner), classifier_model=str(cls)), show_progress=False)
    mentions, cats = ann.entities(passages), ann.categories(docs)
    cache_path = tmp_path / "cache.jsonl.gz"
    ann.to_cache(mentions, docs, cats).save(cache_path)
    loaded = AnnotationCache.load(cache_path)
    assert loaded.mentions == mentions and len(loaded.categories) == 3
    one = next(iter(mentions))
    part = AnnotationCache.load(cache_path, chunk_ids={one}, doc_keys=set())
    assert list(part.mentions) == [one] and part.categories == {}
    d0 = (docs[0].doc_id, docs[0].checksum)
    assert list(AnnotationCache.load(cache_path, chunk_ids=set(), doc_keys={d0}).categories) == [d0]

    # with the cache, the models are not run at all for known chunks and documents
    def refuse(*a, **k):
        raise AssertionError("model called despite a cache hit")

    monkeypatch.setattr("tasks.ner.NerTagger.tag", refuse)
    monkeypatch.setattr("tasks.classify.Classifier.predict", refuse)
    cfg = IndexConfig(annotate=AnnotateConfig(ner_model=str(ner), classifier_model=str(cls), cache=str(cache_path)))
    report = IndexWriter(tmp_path / "index", cfg, show_progress=False).build([src])
    assert report.manifest["counts"]["entity_mentions"] == 9 and report.manifest["counts"]["categorised_documents"] == 3
    assert "cache" not in report.manifest["annotations"]
    assert _chunk_docs(tmp_path / "index", SearchFilter(entities=("timolol",))) == {"glaucoma"}

    # another model (different weights) ignores the cache and runs
    other = tmp_path / "ner2"
    make_tiny_token_classifier(other, seed=7, base=make_tiny_base(tmp_path / "b2", seed=7))
    ann2 = Annotator(AnnotateConfig(ner_model=str(other), cache=str(cache_path)), show_progress=False)
    with pytest.raises(AssertionError, match="model called"):
        ann2.entities(passages)
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(IndexerError, match="unreadable"):
        AnnotationCache.load(bad)
