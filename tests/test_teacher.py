"""The generator as a sentiment teacher (tools/teacher.py): labels stored once, kept through kill -9, trained on.

Tried here: answers that are not a label; a ``pulse train --steps teacher`` child killed with SIGKILL while
it labels (what it committed stays, the next run asks only for the rest); a generator that fails mid-run
(a clear error, the labels so far kept); the sentiment step learning from the stored labels.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import PLUMBING_MODEL

from tools.base import ToolError
from tools.teacher import Teacher, label_posts, parse_label, teacher_rows
from workspace import Workspace

N = 60


def test_an_answer_is_a_label_only_when_it_starts_with_one():
    assert parse_label("Positive.") == "positive"
    assert parse_label(" negative\n") == "negative"
    assert parse_label('"Neutral"') == "neutral"
    assert parse_label("neg") == "negative"
    for answer in ("", "I think", "The sentiment is positive", "mixed"):
        assert parse_label(answer) is None, answer


def _stored(ws_path) -> list[tuple]:
    with Workspace.open(ws_path, read_only=True) as ws:
        return ws.con.execute("SELECT text_sha, teacher, label FROM teacher_labels").fetchall()


def test_labels_survive_kill_9_and_the_next_run_asks_only_for_the_rest(writable_ws, small_model, settings_factory):
    err = writable_ws / "child.err"
    cmd = [sys.executable, "-m", "bots.cli", "--workspace", str(writable_ws), "--model", PLUMBING_MODEL]
    with open(err, "w") as f:
        child = subprocess.Popen([*cmd, "train", "--steps", "teacher", "--teacher-posts", str(N)], stderr=f)
    done, t0 = 0, time.monotonic()
    while done < 16 and child.poll() is None and time.monotonic() - t0 < 240:  # one batch committed
        time.sleep(0.2)
        counts = re.findall(rf"(\d+)/{N}", err.read_text())
        done = int(counts[-1]) if counts else 0
    assert child.poll() is None, err.read_text()[-2000:]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    kept = _stored(writable_ws)
    assert 16 <= len(kept) < N
    assert {lab for *_, lab in kept} <= {"negative", "neutral", "positive", None}

    teacher = Teacher(lambda msgs: small_model.complete(msgs, max_tokens=3).text, small_model.name)
    with Workspace.open(writable_ws) as ws:
        card = label_posts(ws, teacher, n=N, progress=False)
    assert card["asked"] == N - len(kept)  # nothing labelled before the kill is asked again
    after = _stored(writable_ws)
    assert len(after) == N and set(kept) <= set(after)
    assert {t for _, t, _ in after} == {teacher.id} and teacher.id.startswith(small_model.name + "/")
    with Workspace.open(writable_ws) as ws:
        assert label_posts(ws, teacher, n=N, progress=False)["asked"] == 0


def test_a_generator_that_fails_mid_run_keeps_the_labels_so_far(writable_ws):
    calls = []

    def complete(msgs):
        calls.append(msgs)
        if len(calls) > 20:
            raise ConnectionError("endpoint went away")
        return "positive" if len(calls) % 2 else "Negative."

    teacher = Teacher(complete, "flaky")
    with Workspace.open(writable_ws) as ws, pytest.raises(ToolError, match="generator failed after 16 new labels"):
        label_posts(ws, teacher, n=N, batch=16, workers=1, progress=False)
    stored = _stored(writable_ws)
    assert len(stored) == 16 and {lab for *_, lab in stored} == {"positive", "negative"}
    assert calls[0][0]["role"] == "system" and "positive, negative or neutral" in calls[0][0]["content"]


def test_the_sentiment_step_trains_a_taught_head_on_the_teachers_posts(writable_ws, settings_factory, embedder):
    import numpy as np

    from retrieval import Index
    from tools.sentiment import TAUGHT_BLEND, train_sentiment

    def complete(msgs):  # a deterministic teacher: the point here is the plumbing into the classifier
        text = msgs[-1]["content"].lower()
        return "negative" if any(w in text for w in ("bad", "fake", "weak", "sad", "failing")) else "positive"

    s = settings_factory(writable_ws)
    with Workspace.open(writable_ws) as ws:
        label_posts(ws, Teacher(complete, "rule"), n=200, progress=False)
        rows = teacher_rows(ws)
        index = Index.open(ws, s, embedder)
        card = train_sentiment(ws, index, s.cache_dir, embedder, sample=300, save=False)
        _, vecs = index.stored_vectors(ids=rows["doc_id"].to_numpy())
    assert len(rows) >= 150 and set(rows["label"]) == {0, 2}
    train_posts = card["data"]["posts"]
    held = card["metrics"]["sets"]["posts (teacher labels, held out)"]
    assert train_posts + held["pulse"]["n"] == len(rows) and 0.6 * len(rows) < train_posts < 0.95 * len(rows)
    assert card["n_train"] == sum(card["data"].values())
    model, texts = card["model"], rows["text"].tolist()
    assert model.taught is not None and list(model.taught.classes_) == [0, 2]  # two labels: still 3 columns out
    taught, untaught = model.proba(vecs, texts), model.proba(vecs, texts, taught=False)
    assert taught.shape == (len(rows), 3) and np.allclose(taught.sum(1), 1)
    # no neutral from the head: p_neutral is VADER's rule share or nothing
    assert (np.isclose(taught[:, 1], 0) | np.isclose(taught[:, 1], TAUGHT_BLEND)).all()
    assert not np.allclose(taught, untaught)  # unseen kinds (posts) are read by the taught head
    assert np.allclose(model.proba(vecs, texts, seen=True), model.proba(vecs, texts, seen=True, taught=False))
    # it learnt the teacher's rule: most held-in posts get the teacher's label
    assert (np.where(taught.argmax(1) == 2, 2, 0) == rows["label"].to_numpy()).mean() > 0.8
    tweets = card["metrics"]["sets"]["tweets (unseen domain)"]
    assert {"pulse", "vader", "classifier_alone", "without_teacher"} <= set(tweets)
