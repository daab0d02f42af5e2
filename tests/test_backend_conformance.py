"""The conformance suite (tests/backend_conformance.py) on every backend.

local: FAISS + bm25s files. milvus-lite: Milvus Lite inside the generation directory.
milvus-lite-shared: a Milvus Lite database outside the index, one collection per generation
(the code path a server uses). milvus-server: only when CLINQA_MILVUS_URI is set.
"""
from __future__ import annotations

import os
import uuid

import pytest

from backend_conformance import DIM, BackendConformance, build_generation
from indexer.backends import make_backend
from indexer.bm25 import BM25Config
from indexer.dense import FaissConfig
from indexer.milvus import MilvusConfig
from indexer.tokenize import tokenize

pytestmark = pytest.mark.integration

SERVER_URI = os.environ.get("CLINQA_MILVUS_URI")

KINDS = [
    pytest.param(("local", None), id="local"),
    pytest.param(("milvus", None), id="milvus-lite"),
    pytest.param(("milvus", "shared"), id="milvus-lite-shared"),
    pytest.param(("milvus", "server"), id="milvus-server",
                 marks=pytest.mark.skipif(not SERVER_URI, reason="set CLINQA_MILVUS_URI to test a Milvus server")),
]


def _setup(param, root, name="gen-test", docs=None):
    kind, where = param
    milvus = None
    if where == "shared":
        milvus = MilvusConfig(uri=str(root / "shared" / "milvus.db"))
    elif where == "server":
        milvus = MilvusConfig(uri=SERVER_URI, prefix=f"clinqa_test_{uuid.uuid4().hex[:8]}")
    gen = root / name
    backend = build_generation(kind, gen, milvus=milvus, **({"docs": docs} if docs is not None else {}))
    opened = [backend]

    def reopen(dimension=DIM):
        b = make_backend(kind, gen, dimension, tokenize, FaissConfig(), BM25Config(), milvus=milvus)
        opened.append(b)
        return b

    def teardown():
        if where == "server":
            backend.publish(set())  # drops this test's collections
        for b in opened:
            b.close()

    return backend, reopen, teardown


@pytest.fixture(scope="module", params=KINDS)
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def backend(kind, tmp_path_factory):
    """Shared by the read-only tests of one backend (building costs ~1.5 s on Milvus Lite)."""
    b, _, teardown = _setup(kind, tmp_path_factory.mktemp("gen"))
    yield b
    teardown()


@pytest.fixture
def fresh(kind, tmp_path):
    """(backend, reopen) over a generation of its own, for tests that change it."""
    b, reopen, teardown = _setup(kind, tmp_path)
    yield b, reopen
    teardown()


@pytest.fixture
def build_other(kind, tmp_path):
    """build_other(docs, name): an open backend of the same kind over a new generation `name`
    built from `docs` (the fresh build that changed generations are compared with)."""
    teardowns = []

    def build(docs, name="gen-other"):
        b, _, teardown = _setup(kind, tmp_path, name=name, docs=docs)
        teardowns.append(teardown)
        return b

    yield build
    for teardown in teardowns:
        teardown()


class TestConformance(BackendConformance):
    pass
