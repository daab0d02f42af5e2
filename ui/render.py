"""HTML for the web UI, as small pure functions (unit-tested without a browser or Gradio).

Every piece of text that comes from a question, a document or a file name goes through
`html.escape` here, so markup in any of them is shown as text and never run. URLs become
links only when they are http(s): a document could carry `javascript:` in its url field.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pipeline.ranking import LITERATURE, UNCALIBRATED

NOTICE = (
    "Decision support from the indexed literature, not a diagnosis. Answers are extracted from "
    "the documents below by a machine-reading model and may be wrong or incomplete: check the "
    "source and use clinical judgement."
)
LEG_NAMES = {"bm25": "BM25 (keywords)", "dense": "Dense (meaning)"}


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) link, else None (no javascript:, data:, relative)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def highlight(text: str, start: int, end: int, entities: Sequence[Any] = ()) -> str:
    """`text` escaped, with text[start:end] wrapped in <mark> (offsets clamped to the text)
    and entity mentions (objects with start/end/label) wrapped in labelled spans."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    return mark_spans(text, (start, end), entities)


def mark_spans(text: str, answer: tuple[int, int] | None, entities: Sequence[Any] = ()) -> str:
    """Escaped text with the answer in one <mark> and entity mentions (objects with
    start/end/label) in `<span class="cq-ent cq-ent-LABEL">`; an entity crossing the answer's
    edge is split there, so the HTML nests properly."""
    n = len(text)
    ents = sorted((max(0, min(m.start, n)), max(0, min(m.end, n)), str(m.label)) for m in entities)
    if answer is None or answer[1] <= answer[0]:
        return _entity_spans(text, 0, n, ents)
    a, b = answer
    return (f"{_entity_spans(text, 0, a, ents)}<mark>{_entity_spans(text, a, b, ents)}</mark>"
            f"{_entity_spans(text, b, n, ents)}")


def _entity_spans(text: str, lo: int, hi: int, ents: Sequence[tuple[int, int, str]]) -> str:
    out, pos = [], lo
    for s, e, label in ents:
        s, e = max(s, pos), min(e, hi)
        if e <= s:
            continue
        cls = "cq-ent cq-ent-" + "".join(ch for ch in label.lower() if ch.isalnum())
        out.append(f'{esc(text[pos:s])}<span class="{cls}" title="{esc(label)}">{esc(text[s:e])}</span>')
        pos = e
    out.append(esc(text[pos:hi]))
    return "".join(out)


def render_entity_legend(passages: Sequence[Any]) -> str:
    """Which entity types are highlighted in the shown passages (empty when none)."""
    labels = sorted({m.label for p in passages for m in getattr(p, "entities", ())})
    if not labels:
        return ""
    chips = " ".join(
        f'<span class="cq-ent cq-ent-{"".join(ch for ch in lab.lower() if ch.isalnum())}">{esc(lab)}</span>'
        for lab in labels
    )
    return f'<p class="cq-legend">Entities found at index time: {chips}</p>'


def percent(p: float) -> str:
    return f"{max(0.0, min(1.0, p)):.0%}"


def render_confidence(probability: float) -> str:
    p = max(0.0, min(1.0, probability))
    return (
        f'<div class="cq-conf" title="calibrated probability that this answer is correct">'
        f'<div class="cq-bar"><span style="width:{p * 100:.1f}%"></span></div>'
        f'<span class="cq-pct">{percent(p)} confidence</span></div>'
    )


def render_source(passage: Any) -> str:
    """Title (a link when the URL is safe), source collection and licence of a passage."""
    title = esc(passage.title or passage.doc_id)
    url = safe_url(passage.url)
    link = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>' if url else title
    meta = [f"source: {esc(passage.source or 'unknown')}", f"licence: {esc(passage.license or 'not stated')}"]
    cat = getattr(passage, "category", None)
    if cat is not None:
        name = f"{cat.label} {cat.name}".strip()
        meta.append(f'<span class="cq-cat" title="predicted by the document classifier">category: {esc(name)} '
                    f"({percent(cat.probability)})</span>")
    if url:
        meta.append(f'<span class="cq-url">{esc(url)}</span>')
    return f'<div class="cq-src"><span class="cq-title">{link}</span> <span class="cq-meta">{" · ".join(meta)}</span></div>'


def calibration_label(name: str) -> str:
    """Which dev questions the answer probability was fitted on (pipeline.ranking.Scored.calibration)."""
    if name == LITERATURE:
        return "calibrated on literature dev questions"
    if name == UNCALIBRATED:
        return "not calibrated: reader x relevance"
    return f"calibrated on our dev questions over {name} pages" if name else ""


def render_why(ranked: Any, hit: Any, threshold: float) -> str:
    """The evidence for one answer: first-stage ranks and scores per leg, fused, the
    reranker's score and rank, the reader's span score, and the combined probability."""
    rows = []
    if hit is not None:
        for leg in ("bm25", "dense"):
            if leg in hit.ranks:
                rows.append((LEG_NAMES[leg], f"#{hit.ranks[leg]}", f"{hit.scores.get(leg, float('nan')):.4f}"))
            else:
                rows.append((LEG_NAMES[leg], "not in this leg's results", "–"))
        first = hit.retrieval_rank or ranked.hit_rank
        rows.append(("Fused retrieval (first stage)", f"#{first}", f"{hit.score:.4f}"))
        if getattr(hit, "rerank_score", None) is not None:
            rows.append(("Reranker (cross-encoder)", f"#{hit.rerank_rank}",
                         f"{hit.rerank_score:.3f} → relevance {percent(hit.rerank_probability)}"))
    a = ranked.answer
    rows.append(("Reader span score", "", f"{a.score:.3f}"))
    rows.append(("Reader probability (span alone)", "", f"{a.probability:.3f}"))
    label = calibration_label(getattr(ranked, "calibration", ""))
    rows.append(("Answer probability", "", f"{ranked.final_score:.3f} (confident from {threshold:.2f}"
                 + (f"; {label})" if label else ")")))
    body = "".join(f"<tr><th>{esc(n)}</th><td>{esc(r)}</td><td>{esc(s)}</td></tr>" for n, r, s in rows)
    return (
        '<details class="cq-why"><summary>Why this answer</summary>'
        f'<table><thead><tr><th></th><th>rank</th><th>score</th></tr></thead><tbody>{body}</tbody></table>'
        "<p>Answer probability = how likely this answer is right, from the reader's span score and the "
        "passage's relevance together, calibrated on dev questions over a realistic index (the table says on "
        "which kind of pages). "
        "Use <em>Explain tokens</em> below for the words that drove the reader.</p></details>"
    )


def render_notes(result: Any) -> str:
    """Notes on how the question was read (e.g. a long question cut to its last sentence)."""
    notes = getattr(result, "notes", ())
    return "".join(f'<div class="cq-note" role="note">Note: {esc(n)}</div>' for n in notes)


def render_answer_html(result: Any) -> str:
    """The answer list of an `AskResult`, its yes/no verdict, or its no-answer state with
    the best passages."""
    notes = render_notes(result)
    if not result.hits:  # before the verdict: none is ever shown from 0 passages
        return notes + render_empty_html(result)
    if getattr(result, "verdict", None) is not None:
        return render_verdict_html(result)
    if not result.confident:
        return notes + render_no_answer(result)
    cards = []
    for i, r in enumerate(result.answers, 1):
        a, p = r.answer, r.answer.passage
        hit = result.hits[r.hit_rank - 1] if 0 < r.hit_rank <= len(result.hits) else None
        cards.append(
            f'<div class="cq-answer" data-rank="{i}">'
            f'<div class="cq-head"><span class="cq-num">{i}.</span> <span class="cq-text">{esc(a.text)}</span></div>'
            f"{render_confidence(r.final_score)}"
            f'<blockquote class="cq-passage">{highlight(p.text, a.start, a.end, p.entities)}</blockquote>'
            f"{render_source(p)}{render_why(r, hit, result.no_answer_threshold)}</div>"
        )
    listed = ""
    if getattr(result, "list_answer", ()):
        items = "".join(f"<li>{esc(r.answer.text)} <span class=\"cq-meta\">({percent(r.final_score)}, passage "
                        f"{r.hit_rank})</span></li>" for r in result.list_answer)
        listed = f'<div class="cq-list" data-state="list"><strong>List answer</strong><ul>{items}</ul></div>'
    cards.insert(0, listed)
    legend = render_entity_legend([r.answer.passage for r in result.answers])
    return f'{notes}<div class="cq-answers" data-state="answers">{"".join(cards)}{legend}{_timing(result)}</div>'


def render_empty_html(result: Any) -> str:
    """A question that found no passage: why (`result.empty`, pipeline.engine.EmptyResult:
    an empty index, filters that exclude everything (named in its message), no keyword
    matched) and what to do.
    No passages block and no verdict: there is nothing to show them from."""
    empty = getattr(result, "empty", None)
    reason = getattr(empty, "reason", "no_match")
    message = getattr(empty, "message", "No passage matched the question.")
    hint = getattr(empty, "hint", "try other words or another retrieval mode")
    return (f'<div class="cq-answers" data-state="no-hits" data-reason="{esc(reason)}">'
            f'<div class="cq-noanswer"><strong>Nothing found.</strong> {esc(message)}'
            f'<div class="cq-hint">{esc(hint[:1].upper() + hint[1:])}.</div></div></div>')


def render_no_answer(result: Any, limit: int = 3) -> str:
    """No answer cleared the threshold: say so and show the closest passages (there are some:
    a result without hits goes to `render_empty_html`)."""
    intro = (
        f'<div class="cq-noanswer"><strong>No confident answer.</strong> No answer found in the indexed '
        f"literature cleared the confidence threshold ({percent(result.no_answer_threshold)}), so none is "
        "shown rather than a guess."
    )
    passages = "".join(
        f'<div class="cq-answer cq-hit"><blockquote class="cq-passage">{mark_spans(h.passage.text, None, h.passage.entities)}'
        "</blockquote>"
        f"{render_source(h.passage)}</div>"
        for h in result.hits[:limit]
    )
    return (f'<div class="cq-answers" data-state="no-answer">{intro} The closest passages are below; read them '
            f"yourself.</div>{passages}{_timing(result)}</div>")


ROLE_TEXT = {"supports": "supports", "contradicts": "contradicts", "neutral": "neutral"}


def _role_text(role: str, label: str) -> str:
    """"supports yes", "contradicts yes", "neutral": the label makes the role readable
    also when the verdict abstained (roles are relative to the leading label)."""
    return f"{ROLE_TEXT.get(role, role)} {label}" if role in ("supports", "contradicts") else ROLE_TEXT.get(role, role)


def render_verdict_html(result: Any) -> str:
    """A yes/no question's verdict (or the abstention), then the passages it was weighed
    from, each marked supports / contradicts / neutral with its own label and weight."""
    v = result.verdict
    counts = {r: sum(e.role == r for e in v.evidence) for r in ROLE_TEXT}
    if v.abstained:
        head = (f'<div class="cq-verdict cq-verdict-abstain" data-label="{esc(v.label)}" data-abstained="true">'
                f'<div class="cq-vhead">{esc(v.message)}</div>'
                f'<div class="cq-vlean">Leaning {esc(v.label)} ({percent(v.probability)}), not enough to answer.</div>')
    else:
        head = (f'<div class="cq-verdict cq-verdict-{esc(v.label)}" data-label="{esc(v.label)}" data-abstained="false">'
                f'<div class="cq-vhead">{esc(v.label.capitalize())}</div>{render_confidence(v.probability)}')
    head += (f'<p class="cq-vsum">Weighed from {len(v.evidence)} passage(s) by relevance: {counts["supports"]} '
             f'support, {counts["contradicts"]} contradict, {counts["neutral"]} neutral.</p></div>')
    by_chunk = {h.passage.chunk_id: h.passage for h in result.hits}
    cards = []
    for e in v.evidence:
        p = by_chunk.get(e.chunk_id)
        if p is None:
            continue
        cards.append(
            f'<div class="cq-answer cq-evidence cq-role-{esc(e.role)}" data-role="{esc(e.role)}">'
            f'<div class="cq-head"><span class="cq-role">{esc(_role_text(e.role, v.label))}</span> '
            f'<span class="cq-meta">passage says {esc(e.label)} ({percent(e.probability)}), relevance weight '
            f"{e.weight:.3f}</span></div>"
            f'<blockquote class="cq-passage">{mark_spans(p.text, None, p.entities)}</blockquote>{render_source(p)}</div>'
        )
    legend = render_entity_legend([by_chunk[e.chunk_id] for e in v.evidence if e.chunk_id in by_chunk])
    return f'<div class="cq-answers" data-state="verdict">{head}{"".join(cards)}{legend}{_timing(result)}</div>'


def _timing(result: Any) -> str:
    t = result.timings_ms
    step = (f'yes/no classifier {t.get("classify", 0):.0f} ms' if "classify" in t
            else f'reader {t.get("read", 0):.0f} ms')
    return (f'<p class="cq-timing">retrieval {t.get("retrieve", 0):.0f} ms · {step} · '
            f"{len(result.hits)} passages read</p>")


def render_error_html(message: str, hint: str = "") -> str:
    hint_html = f'<div class="cq-hint">{esc(hint)}</div>' if hint else ""
    return f'<div class="cq-error" role="alert" data-state="error">{esc(message)}{hint_html}</div>'


def render_message_html(message: str) -> str:
    return f'<div class="cq-message">{esc(message)}</div>'


def render_tokens(text: str, tokens: Sequence[Any], mark: tuple[int, int] | None = None) -> str:
    """`text` with each attributed token shaded by its weight (green +, red -); the gaps
    between tokens are kept as they are. `mark`: a character span to underline (the answer)."""
    out, pos = [], 0
    for tok in sorted(tokens, key=lambda t: t[1]):
        _, s, e, w = tok
        if s < pos:  # overlapping offsets (some tokenizers): keep the first token
            continue
        out.append(esc(text[pos:s]))
        colour = "22,163,74" if w >= 0 else "220,38,38"
        in_answer = mark is not None and s < mark[1] and e > mark[0]
        cls = "cq-tok cq-tok-ans" if in_answer else "cq-tok"
        out.append(
            f'<span class="{cls}" style="background:rgba({colour},{min(abs(w), 1.0):.2f})" '
            f'title="{w:+.3f}">{esc(text[s:e])}</span>'
        )
        pos = e
    out.append(esc(text[pos:]))
    return "".join(out)


def render_explanation_html(explanation: Any, question: str, passage: str, start: int, end: int) -> str:
    """Question and passage with the attribution of the answer's span score to each token."""
    return (
        '<div class="cq-explain" data-state="explanation">'
        "<p>Integrated gradients of the answer's span score with respect to each input token: "
        "<span class=\"cq-tok\" style=\"background:rgba(22,163,74,.6)\">green</span> pushed the reader towards "
        "this answer, <span class=\"cq-tok\" style=\"background:rgba(220,38,38,.6)\">red</span> away from it; "
        "the answer is underlined. Hover a token for its weight.</p>"
        f'<div class="cq-exq"><strong>Question:</strong> {render_tokens(question, explanation.question)}</div>'
        f'<blockquote class="cq-passage">{render_tokens(passage, explanation.passage, (start, end))}</blockquote></div>'
    )


@dataclass(frozen=True)
class UploadRow:
    name: str  # the safe file name
    status: str  # added | updated | unchanged | skipped | failed
    detail: str = ""


def render_upload_report(rows: Sequence[UploadRow]) -> str:
    if not rows:
        return render_message_html("Choose one or more files first.")
    body = "".join(
        f'<tr class="cq-{esc(r.status)}"><td>{esc(r.name)}</td><td>{esc(r.status)}</td><td>{esc(r.detail)}</td></tr>'
        for r in rows
    )
    counts = {s: sum(r.status == s for r in rows) for s in ("added", "updated", "unchanged", "skipped", "failed")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return (f'<div class="cq-report" data-state="upload-report"><p>{esc(summary)}</p><table><thead><tr><th>file</th>'
            f"<th>result</th><th>details</th></tr></thead><tbody>{body}</tbody></table></div>")


def render_index_info(manifest: dict[str, Any], reader: str, sources: Sequence[str]) -> str:
    counts, enc = manifest.get("counts", {}), manifest.get("encoder", {})
    ann = manifest.get("annotations") or {}
    rows = [
        ("Documents", counts.get("documents", "?")),
        ("Passages (chunks)", counts.get("chunks", "?")),
        ("Encoder", f"{enc.get('model', '?')} ({enc.get('dimension', '?')} dims, {enc.get('backend', 'torch')})"),
        ("Vector index", (manifest.get("faiss") or {}).get("kind", "?")),
        ("Built", manifest.get("created_at", "?")),
        ("Last changed", manifest.get("updated_at", "?")),
        ("Reader", reader),
        ("Source collections", ", ".join(sources) or "none"),
        ("Entity tagger (NER)", f"{ann.get('ner_model') or 'none'}: {counts.get('entity_mentions', 0)} mentions"),
        ("Document classifier",
         f"{ann.get('classifier_model') or 'none'}: {counts.get('categorised_documents', 0)} documents categorised"),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="cq-info" data-state="index-info">{body}</table>'
