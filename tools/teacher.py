"""The local generator as a sentiment teacher: it labels a sample of the workspace's posts once.

The fast classifier (``tools/sentiment.py``) learns from star-rated reviews and human-rated snippets; none of
them is social text, and on posts a linear layer over an embedding learns the wrong vocabulary. The generator
reads language it has not been trained on for, but at about a second a post on 2 CPU cores it cannot score
every document at every import. So ``pulse train --steps teacher`` asks it once about a stable random sample
of the workspace's posts (one word: positive, negative or neutral; the prompt is
``tools/prompts/sentiment_teacher.md``) and stores each answer in the ``teacher_labels`` table, keyed by the
sha256 of the text and the teacher (the model's name and the prompt's hash). The next ``sentiment`` step
trains on those posts as one more domain.

Labels are committed a batch at a time: a run that is stopped (Ctrl-C, kill -9) keeps what it wrote, and the
next run goes on from there; a text this teacher has labelled is never asked again. The generator comes in as
a plain function (messages -> text), so this module needs nothing from the agent.

    >>> t = Teacher(lambda msgs: model.complete(msgs, max_tokens=3).text, model.name)   # doctest: +SKIP
    >>> label_posts(ws, t, n=1000)                                                       # doctest: +SKIP
    {'teacher': 'qwen2.5-coder-1.5b/5f0c2a1e9b7d', 'asked': 1000, 'labelled': 997, 'stored': 997, ...}

What it leaves out: reviews (their stars are better labels), Chinese posts (the Chinese model has its own
labelled data), a label for every post, and any use of the teacher at question time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from pulse.lang import is_chinese

from .base import ToolError

__all__ = ["Teacher", "label_posts", "teacher_rows", "parse_label", "PROMPT"]

PROMPT = resources.files("tools").joinpath("prompts", "sentiment_teacher.md").read_text().strip()
_LABELS = ("negative", "neutral", "positive")
_MIN_CHARS = 12  # shorter posts ("@x True!") say too little to label
_MAX_CHARS = 600  # the generator reads at ~20 tokens/s: a long post is cut, as a reader skims


@dataclass(frozen=True)
class Teacher:
    """``complete(messages) -> text``: a chat model's answer; ``model``: its name (part of the labels' key)."""

    complete: Callable[[list[dict]], str]
    model: str

    @property
    def id(self) -> str:
        return f"{self.model}/{hashlib.sha256(PROMPT.encode()).hexdigest()[:12]}"

    def label(self, text: str) -> str | None:
        answer = self.complete([{"role": "system", "content": PROMPT}, {"role": "user", "content": text[:_MAX_CHARS]}])
        return parse_label(answer)


def parse_label(answer: str) -> str | None:
    """The label an answer starts with ("Positive.", "negative"), or None for anything else."""
    word = answer.strip().lower().lstrip("\"'*(").split(maxsplit=1)
    for label in _LABELS:
        if word and word[0].startswith(label[:3]):
            return label
    return None


def _todo(ws, teacher_id: str, n: int) -> pd.DataFrame:
    """The first ``n`` distinct post texts in a stable random order (md5 of the post id), less those labelled."""
    df = ws.con.execute(
        f"""SELECT sha256(text) AS text_sha, any_value(text) AS text, min(md5(ref_id)) AS k
            FROM documents WHERE kind = 'post' AND length(trim(text)) >= {_MIN_CHARS}
            GROUP BY text_sha ORDER BY k""",
    ).df()
    df = df[~df["text"].map(is_chinese)].head(n)
    done = {r[0] for r in ws.con.execute("SELECT text_sha FROM teacher_labels WHERE teacher = ?", [teacher_id]).fetchall()}
    return df[~df["text_sha"].isin(done)]


def label_posts(ws, teacher: Teacher, n: int = 1000, batch: int = 16, workers: int = 2, progress: bool = True) -> dict:
    """Have ``teacher`` label up to ``n`` posts (those it has not labelled yet); return a summary for the card.

    ``workers`` requests run at once (llama.cpp serves two slots). Each batch is one committed INSERT."""
    from tqdm import tqdm

    if not ws.query("SELECT 1 FROM documents WHERE kind = 'post' LIMIT 1"):
        raise ToolError("teacher: the workspace has no posts to label")
    todo = _todo(ws, teacher.id, n)
    t0, labelled, failed = time.perf_counter(), 0, 0
    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(todo), desc="teacher labels", disable=not progress) as bar:
        for i in range(0, len(todo), batch):
            part = todo.iloc[i : i + batch]
            try:
                labels = list(pool.map(teacher.label, part["text"]))
            except Exception as e:  # the generator died or its endpoint went away: keep what is stored
                raise ToolError(f"teacher: the generator failed after {labelled} new labels ({e})") from e
            rows = [(s, teacher.id, lab) for s, lab in zip(part["text_sha"], labels)]
            ws.con.executemany("INSERT OR IGNORE INTO teacher_labels (text_sha, teacher, label) VALUES (?, ?, ?)", rows)
            labelled += sum(lab is not None for lab in labels)
            failed += sum(lab is None for lab in labels)
            bar.update(len(part))
    stored = ws.con.execute(
        "SELECT label, count(*) FROM teacher_labels WHERE teacher = ? AND label IS NOT NULL GROUP BY label", [teacher.id]
    ).fetchall()
    return {
        "teacher": teacher.id,
        "asked": int(len(todo)),
        "labelled": labelled,
        "unparsed": failed,
        "stored": {k: int(v) for k, v in sorted(stored)},
        "seconds_per_post": round((time.perf_counter() - t0) / max(len(todo), 1), 2),
    }


def teacher_rows(ws) -> pd.DataFrame:
    """Posts with a teacher label (doc_id, ref_id, text, label 0/1/2). A text labelled by several teachers
    takes the label of the latest run."""
    df = ws.con.execute(
        """SELECT d.doc_id, d.ref_id, d.text, arg_max(t.label, t.labelled_at) AS label
           FROM documents d JOIN teacher_labels t ON t.text_sha = sha256(d.text)
           JOIN embeddings e ON e.doc_id = d.doc_id
           WHERE d.kind = 'post' AND t.label IS NOT NULL GROUP BY ALL ORDER BY d.doc_id"""
    ).df()
    df["label"] = df["label"].map(_LABELS.index)
    return df
