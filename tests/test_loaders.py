"""Loaders: every format, and bad files becoming failures instead of tracebacks."""
from __future__ import annotations

import gzip
import io
import codecs
import json
import tarfile
from pathlib import Path

import pytest

from indexer.errors import LoaderError, UnsupportedFormatError
from indexer.loaders import (
    FORMATS,
    LoadFailure,
    clean_pdf_text,
    detect_format,
    document_to_json,
    html_to_text,
    load_documents,
    squad_doc_id,
    text_title,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]

# -- fixtures --------------------------------------------------------------------------------


def make_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF (Helvetica, one text line per entry), xref offsets computed."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    body = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"({esc(l)}) Tj T*" for l in lines) + " ET"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(body)} >>\nstream\n{body}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


MEDQUAD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000004" source="GARD" url="https://rarediseases.info.nih.gov/gard/335/abcd">
<Focus>ABCD syndrome</Focus>
<FocusAnnotations>
  <UMLS>
    <CUIs><CUI>C1838099</CUI></CUIs>
    <SemanticTypes><SemanticType>T047</SemanticType></SemanticTypes>
    <SemanticGroup>Disorders</SemanticGroup>
  </UMLS>
  <Synonyms><Synonym>BADS</Synonym></Synonyms>
</FocusAnnotations>
<QAPairs>
  <QAPair pid="1">
    <Question qid="0000004-1" qtype="symptoms">What are the symptoms of ABCD syndrome ?</Question>
    <Answer>ABCD syndrome causes albinism \u2013 and   deafness. A widow&apos;s peak.</Answer>
  </QAPair>
  <QAPair pid="2">
    <Question qid="0000004-2" qtype="treatment">What are the treatments for ABCD syndrome ?</Question>
    <Answer>   </Answer>
  </QAPair>
</QAPairs>
</Document>
"""

MEDQUAD_OLD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<doc docid="0000007" corpus="NINDS" url="http://www.ninds.nih.gov/holmes_adie.htm">
<doctitle-focus>Holmes-Adie</doctitle-focus>
<qaPairs><pair pid="1"><question qid="0000007-1" qtype="information">what is holmes-adie syndrome ?</question>
<answer>Holmes-Adie syndrome is a neurological disorder.</answer></pair></qaPairs>
</doc>
"""


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# -- JSONL ---------------------------------------------------------------------------------


def test_jsonl_good_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "title": "T a", "text": "Aspirin \u2014 low dose.", "url": "u", "year": 2020}),
        "",
        "{not json",
        json.dumps({"title": "no id", "text": "x"}),
        json.dumps({"id": "c", "title": "no text"}),
        json.dumps(["a list"]),
        json.dumps({"id": "e1", "text": ""}),  # empty and blank text: skipped alike, by id
        json.dumps({"id": "e2", "text": "  \n "}),
        json.dumps({"id": "b", "text": "Beta", "source": "S", "license": "MIT", "metadata": {"k": 1}}),
    ]
    path = write(tmp_path / "docs.jsonl", "\n".join(lines) + "\n")
    report = load_documents([path])
    assert [d.doc_id for d in report.documents] == ["a", "b"]
    a, b = report.documents
    assert a.text == "Aspirin \u2014 low dose." and a.metadata  # as written (issue 14.3) == {"year": 2020} and a.url == "u"
    assert a.source == "docs"  # default source: file stem
    assert (b.title, b.source, b.license, b.metadata) == ("", "S", "MIT", {"k": 1})
    assert [(f.line, f.path) for f in report.failures] == [(3, str(path)), (4, str(path)), (5, str(path)), (6, str(path))]
    assert "missing id" in report.failures[1].reason and "missing text" in report.failures[2].reason
    assert [(s.doc_id, s.reason) for s in report.skipped] == [("e1", "empty text"), ("e2", "empty text")]
    assert all(f.hint for f in report.failures)
    assert ":3: invalid JSON" in str(report.failures[0])


def test_jsonl_gz_round_trip(tmp_path: Path) -> None:
    src = load_documents([write(tmp_path / "a.xml", MEDQUAD_XML)]).documents
    path = tmp_path / "corpus.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for d in src:
            fh.write(json.dumps(document_to_json(d)) + "\n")
    back = load_documents([path]).documents
    assert back == src and [d.metadata for d in back] == [d.metadata for d in src]


def test_corrupt_gzip_is_a_failure(tmp_path: Path) -> None:
    report = load_documents([write(tmp_path / "x.jsonl.gz", b"\x1f\x8b\x08garbage")])
    assert not report.documents and len(report.failures) == 1
    assert "gzip" in report.failures[0].reason


# -- MedQuAD -------------------------------------------------------------------------------


def test_medquad_xml(tmp_path: Path) -> None:
    report = load_documents([write(tmp_path / "GARD" / "0000004.xml", MEDQUAD_XML)])
    [doc] = report.documents
    assert doc.doc_id == "medquad:GARD/0000004_1"
    assert doc.title == "What are the symptoms of ABCD syndrome ?"
    assert doc.text == "ABCD syndrome causes albinism \u2013 and deafness. A widow's peak."  # en dash kept
    assert (doc.url, doc.source, doc.license) == ("https://rarediseases.info.nih.gov/gard/335/abcd", "MedQuAD/GARD", "CC BY 4.0")
    m = doc.metadata
    assert (m["focus"], m["qtype"], m["qid"], m["cuis"], m["semantic_types"], m["semantic_group"], m["synonyms"]) == (
        "ABCD syndrome", "symptoms", "0000004-1", ["C1838099"], ["T047"], "Disorders", ["BADS"],
    )
    assert [s.reason for s in report.skipped] == ["empty answer"]


def test_medquad_old_schema(tmp_path: Path) -> None:
    [doc] = load_documents([write(tmp_path / "0000007.xml", MEDQUAD_OLD_XML)]).documents
    assert (doc.doc_id, doc.source, doc.metadata["focus"]) == ("medquad:NINDS/0000007_1", "MedQuAD/NINDS", "Holmes-Adie")


def test_medquad_archive_sorted_and_bad_member(tmp_path: Path) -> None:
    other = MEDQUAD_XML.replace('id="0000004"', 'id="0000009"')
    path = make_tar(
        tmp_path / "mq.tar.gz",
        {
            "2_GARD_QA/0000009.xml": other.encode(),
            "2_GARD_QA/0000004.xml": MEDQUAD_XML.encode(),
            "2_GARD_QA/0000005.xml": b"<Document><QAPairs>",  # truncated
            "readme.txt": b"not xml",
        },
    )
    report = load_documents([path], format="medquad")
    assert [d.doc_id for d in report.documents] == ["medquad:GARD/0000004_1", "medquad:GARD/0000009_1"]
    [failure] = report.failures
    assert failure.path.endswith("mq.tar.gz:2_GARD_QA/0000005.xml") and "invalid XML" in failure.reason
    assert any(s.reason == "not an XML member" for s in report.skipped)
    # .tar.gz defaults to MedQuAD without an explicit format
    assert len(load_documents([path]).documents) == 2


def test_corrupt_archive_is_a_failure(tmp_path: Path) -> None:
    report = load_documents([write(tmp_path / "bad.tar.gz", b"\x1f\x8b not really")], format="medquad")
    assert not report.documents and "tar" in report.failures[0].reason


# -- PubMedQA / SQuAD ----------------------------------------------------------------------------


def test_pubmedqa(tmp_path: Path) -> None:
    data = {
        "21645374": {
            "QUESTION": "Do mitochondria play a role?",
            "CONTEXTS": ["Background one.", "Results  two."],
            "LABELS": ["BACKGROUND", "RESULTS"],
            "MESHES": ["Mitochondria", "Apoptosis"],
            "YEAR": "2011",
            "final_decision": "yes",
            "LONG_ANSWER": "Yes, they do.",
        }
    }
    [doc] = load_documents([write(tmp_path / "ori_pqal.json", json.dumps(data))]).documents
    assert doc.doc_id == "pubmed:21645374"
    assert doc.title == "Do mitochondria play a role?"
    assert doc.text == "Background one.\n\nResults two.\n\nYes, they do."
    assert (doc.url, doc.source, doc.license) == ("https://pubmed.ncbi.nlm.nih.gov/21645374/", "PubMedQA", "MIT")
    assert doc.metadata["mesh"] == ["Mitochondria", "Apoptosis"] and "final_decision" not in doc.metadata


def squad(title: str, contexts: list[str]) -> str:
    paragraphs = [{"context": c, "qas": [{"id": f"q{i}", "question": "?", "answers": []}]} for i, c in enumerate(contexts)]
    return json.dumps({"version": "1.1", "data": [{"title": title, "paragraphs": paragraphs}]})


def test_squad_ids_independent_of_file(tmp_path: Path) -> None:
    ctx = "COVID\u201019 spreads  by droplets."
    a = write(tmp_path / "train.json", squad("\n Article ", [ctx, "Second context.", ctx]))
    b = write(tmp_path / "dev.json", squad("Article", [ctx]))
    docs_a = load_documents([a]).documents
    assert len(docs_a) == 2  # repeated context within a file is one document
    first = docs_a[0]
    assert first.doc_id == squad_doc_id("\n Article ", ctx) == squad_doc_id("Article", "COVID\u201019 spreads by droplets.")
    assert first.doc_id.startswith("ctx:") and len(first.doc_id) == 4 + 16
    assert (first.title, first.text, first.source) == ("Article", "COVID\u201019 spreads by droplets.", "train")
    assert first.metadata == {"article_title": "Article", "article_index": 0, "paragraph_index": 0, "question_ids": ["q0"]}
    assert load_documents([b], source="covidqa").documents[0].doc_id == first.doc_id
    assert load_documents([b], source="covidqa").documents[0].source == "covidqa"
    both = load_documents([a, b])
    assert len(both.documents) == 2 and any("duplicate id" in s.reason and s.doc_id == first.doc_id for s in both.skipped)
    assert squad_doc_id("Other", ctx) != first.doc_id


def test_unrecognised_json_is_a_failure(tmp_path: Path) -> None:
    report = load_documents([write(tmp_path / "x.json", '{"a": 1}'), write(tmp_path / "y.json", "{broken")])
    assert not report.documents
    assert "not recognised" in report.failures[0].reason and "not valid JSON" in report.failures[1].reason


# -- text, markdown, HTML, PDF ------------------------------------------------------------------


def test_text_markdown_ids_relative_to_folder(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    write(root / "b.txt", "\n\n  First line is the title\nBody   text.\n")
    write(root / "sub" / "a.md", "Intro line\n\n## Hypertension  \n\nHigh blood pressure.\n")
    write(root / ".hidden" / "x.txt", "secret")
    write(root / ".DS_Store", b"\x00")
    report = load_documents([root])
    assert [d.doc_id for d in report.documents] == ["file:b.txt", "file:sub/a.md"]
    txt, md = report.documents
    assert (txt.title, txt.text, txt.source) == ("First line is the title", "First line is the title\nBody text.", "local")
    assert md.title == "Hypertension" and md.text.startswith("Intro line\n\n## Hypertension")
    assert not report.failures and len(report.skipped) == 2
    # a file given directly is identified by its name, so re-adding it gives the same id
    assert load_documents([root / "sub" / "a.md"], source="mine").documents[0].doc_id == "file:a.md"


def test_text_title_never_cut() -> None:
    # Issue 14.3/14.9: a first line that long is a paragraph, not a title; no cut sentence.
    assert text_title("x" * 500) == ""
    assert text_title("x" * 500, fallback="notes.txt") == "notes.txt"
    assert text_title("Heading \u2014 \u201cquoted\u201d\nbody") == "Heading \u2014 \u201cquoted\u201d"
    assert text_title("plain\n# heading", markdown=True) == "heading"
    assert text_title("plain\n# heading", markdown=False) == "plain"


def test_html_visible_text_only(tmp_path: Path) -> None:
    html = """<html><head><title>Asthma  facts</title><style>p{color:red}</style></head>
    <body><nav>Home | Menu</nav><script>var x = 1;</script>
    <h1>Asthma</h1><p>Asthma is a
       chronic disease<br>of the airways.</p>
    <ul><li>Cough</li><li>Wheeze</li></ul><!-- comment --><div>Footer <b>bold</b> text</div>
    </body></html>"""
    title, text = html_to_text(html)
    assert title == "Asthma facts"
    assert text == "Asthma\n\nAsthma is a chronic disease\nof the airways.\n\nCough\nWheeze\n\nFooter bold text"
    [doc] = load_documents([write(tmp_path / "page.htm", html)]).documents
    assert (doc.doc_id, doc.title) == ("file:page.htm", "Asthma facts")
    assert html_to_text("<h1>Only  heading</h1><p>x</p>")[0] == "Only heading"


def test_pdf_real_file(tmp_path: Path) -> None:
    lines = [
        "Arterial hyper-",
        "tension is common in adults over sixty and it is",
        "often untreated.",
        "COVID-",
        "19 and SARS-",
        "CoV-2 cause infection in many people every year",
        "worldwide.",
    ]
    [doc] = load_documents([write(tmp_path / "paper.pdf", make_pdf(lines))]).documents
    assert doc.doc_id == "file:paper.pdf" and doc.metadata["pages"] == 1
    assert doc.text == (
        "Arterial hypertension is common in adults over sixty and it is often untreated.\n\n"
        "COVID-19 and SARS-CoV-2 cause infection in many people every year worldwide."
    )
    assert doc.title == "Arterial hypertension is common in adults over sixty and it is often untreated."


def test_clean_pdf_text_rules() -> None:
    page = "A long line of text that wraps around to the\nnext line here\n\n- bullet one\n- bullet two\nend of it."
    assert clean_pdf_text([page, "Second  page."]) == (
        "A long line of text that wraps around to the next line here\n\n- bullet one\n\n- bullet two end of it."
        "\n\nSecond page."
    )
    assert clean_pdf_text(["IL-\n6 and well-\nknown and x-\nRay"]) == "IL-6 and well-known and x-Ray"
    assert clean_pdf_text(["", "  "]) == ""


def test_bad_files_are_failures_not_tracebacks(tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    write(root / "good.txt", "Fine text.")
    write(root / "corrupt.pdf", bytes(range(256)) * 4)
    write(root / "latin1.txt", "Ménière's disease".encode("latin-1"))
    write(root / "data.xyz", "what is this")
    write(root / "empty.pdf", make_pdf([]))
    report = load_documents([root, tmp_path / "missing"])
    assert [d.doc_id for d in report.documents] == ["file:good.txt"]
    reasons = {Path(f.path).name: f for f in report.failures}
    assert set(reasons) == {"corrupt.pdf", "latin1.txt", "data.xyz", "empty.pdf", "missing"}
    assert "cannot read PDF" in reasons["corrupt.pdf"].reason
    assert "not UTF-8" in reasons["latin1.txt"].reason and "iconv -f" in reasons["latin1.txt"].hint
    assert "unknown file type '.xyz'" in reasons["data.xyz"].reason and "format=" in reasons["data.xyz"].hint
    assert "no extractable text" in reasons["empty.pdf"].reason
    assert all(isinstance(f, LoadFailure) and f.hint for f in report.failures)
    assert not report.ok and "1 documents" in report.summary()


def test_forced_format_and_unknown_format(tmp_path: Path) -> None:
    path = write(tmp_path / "data.xyz", "Title line\nbody")
    [doc] = load_documents([path], format="text").documents
    assert doc.doc_id == "file:data.xyz" and doc.title == "Title line"
    with pytest.raises(UnsupportedFormatError) as err:
        load_documents([path], format="docx")
    assert isinstance(err.value, LoaderError) and "jsonl" in err.value.hint


def test_detect_format() -> None:
    assert detect_format("a/b.JSONL.gz") == "jsonl"
    assert detect_format("x.tar.gz") == "medquad" and detect_format("x.gz") is None
    assert detect_format("x.json") == "json" and detect_format("x.htm") == "html"
    assert set(FORMATS) == {"jsonl", "medquad", "pubmedqa", "squad", "text", "markdown", "html", "pdf"}


@pytest.mark.integration
def test_default_corpus_loads() -> None:
    path = REPO / "data" / "corpus" / "medquad.jsonl.gz"
    report = load_documents([path])
    assert report.ok and len(report.documents) == 16423
    assert len({d.doc_id for d in report.documents}) == 16423
    first = report.documents[0]
    assert first.doc_id == "medquad:CancerGov/0000001_1_1" and first.license == "CC BY 4.0"


def test_archive_bombs_are_refused(tmp_path, monkeypatch):
    import io
    import tarfile

    import dataclasses

    import common.datasets.limits as limits
    import indexer.loaders as loaders

    path = tmp_path / "bomb.tar.gz"
    big = b"<Document/>" + b" " * 5000
    with tarfile.open(path, "w:gz") as tar:
        for name in ("a.xml", "b.xml"):
            info = tarfile.TarInfo(name)
            info.size = len(big)
            tar.addfile(info, io.BytesIO(big))
    monkeypatch.setattr(limits, "LIMITS", dataclasses.replace(limits.LIMITS, max_member_bytes=1000))
    report = loaders.load_documents([path], format="medquad")
    assert len(report.failures) == 2 and "limit" in report.failures[0].reason
    monkeypatch.setattr(limits, "LIMITS", dataclasses.replace(limits.LIMITS, max_decompressed_bytes=4000))
    report = loaders.load_documents([path], format="medquad")
    assert len(report.failures) == 1 and "unpacks to more than" in report.failures[0].reason
    monkeypatch.setattr(limits, "LIMITS", dataclasses.replace(limits.LIMITS, max_members=1))
    report = loaders.load_documents([path], format="medquad")
    assert "more than 1 members" in report.failures[0].reason


# -- issue 14: text as written, PDF hyphens and headings, explicit titles never cut ---------------


@pytest.mark.parametrize(
    "lines, vocabulary, expected",
    [
        (["anti-", "inflammatory drugs"], frozenset(), "anti-inflammatory drugs"),  # the reported case
        (["anti-", "inflammatory drugs"], frozenset({"antiinflammatory"}), "antiinflammatory drugs"),
        # the hyphenated form is known too: a real compound, keep it
        (["anti-", "inflammatory"], frozenset({"antiinflammatory", "anti-inflammatory"}), "anti-inflammatory"),
        (["hyper-", "tension is common"], frozenset({"hypertension"}), "hypertension is common"),
        (["beta-", "blockers"], frozenset(), "beta-blockers"),
        (["post-", "operative care"], frozenset(), "post-operative care"),
        (["non-", "small cell"], frozenset({"nonsmall"}), "nonsmall cell"),
    ],
)
def test_pdf_line_end_hyphen_removed_only_for_known_words(lines, vocabulary, expected) -> None:
    assert clean_pdf_text(["\n".join(lines)], vocabulary=vocabulary) == expected


def test_pdf_hyphen_uses_the_documents_own_words() -> None:
    page = "Long enough line so that width is set by this text here.\nIt reduces pain and swel-\nling; the swelling goes."
    assert "swelling;" in clean_pdf_text([page], vocabulary=frozenset())


def test_pdf_hyphen_default_vocabulary_is_the_bundled_corpus() -> None:
    from indexer.loaders import corpus_vocabulary

    vocab = corpus_vocabulary()
    assert "hypertension" in vocab and "anti-inflammatory" in vocab
    assert clean_pdf_text(["Arterial hyper-\ntension"]) == "Arterial hypertension"
    assert clean_pdf_text(["anti-\ninflammatory"]) == "anti-inflammatory"


def test_pdf_heading_is_its_own_paragraph_and_title(tmp_path: Path) -> None:
    lines = [
        "Hypertension in adults",
        "This guideline covers the diagnosis and management of primary hypertension in adults and it",
        "aims to reduce the risk of cardiovascular disease.",
    ]
    [doc] = load_documents([write(tmp_path / "guide.pdf", make_pdf(lines))]).documents
    assert doc.title == "Hypertension in adults"
    assert doc.text.startswith("Hypertension in adults\n\nThis guideline")


def test_pdf_ligatures_spelled_out() -> None:
    assert clean_pdf_text(["\ufb01brosis and \ufb02uid"]) == "fibrosis and fluid"


def test_long_first_line_title_falls_back_to_file_name(tmp_path: Path) -> None:
    body = "word " * 80
    [doc] = load_documents([write(tmp_path / "notes.txt", body)]).documents
    assert doc.title == "notes.txt"


def test_explicit_titles_kept_in_full_as_written(tmp_path: Path) -> None:
    title = "Neutropenia \u2014 \u201csevere\u201d " + "long title " * 30
    path = write(tmp_path / "d.jsonl", json.dumps({"id": "x", "title": title, "text": "below 10 \u00d7 10\u2079/L"}) + "\n")
    [doc] = load_documents([path]).documents
    assert doc.title == title.strip() and len(doc.title) > 200
    assert doc.text == "below 10 \u00d7 10\u2079/L"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_text_with_a_byte_order_mark_is_read(tmp_path: Path, codec: str) -> None:
    # Issue 14.9: a UTF-16 file with a BOM was refused with a hint to run `iconv -f latin1`.
    text = "Ménière's disease \u2014 10\u2079/L"
    data = text.encode(codec)
    if codec in ("utf-16-le", "utf-16-be"):
        data = (codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE) + data
    [doc] = load_documents([write(tmp_path / "note.txt", data)]).documents
    assert doc.text == text


def test_non_utf8_hint_names_the_likely_encoding_not_latin1_blindly(tmp_path: Path) -> None:
    text = "Кровяное давление у взрослых: гипертония лечится препаратами. " * 5
    report = load_documents([write(tmp_path / "ru.txt", text.encode("cp1251"))])
    [failure] = report.failures
    assert "iconv -f" in failure.hint and "latin1" not in failure.hint.lower()
    assert "1251" in failure.hint or "KOI8" in failure.hint.upper() or "MAC-CYRILLIC" in failure.hint.upper()
