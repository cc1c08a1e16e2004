"""Choose ``tools.sentiment.UNSEEN_BLEND``: how much VADER's rule label weighs on text of an unseen kind.

    python -m evals.sentiment_blend [--workspace demo-workspace]

Social posts are a domain the classifier is never trained on, and it must not be tuned on the
human-rated tweets either (they are the test). So the weight is chosen on domains that stand in for
an unseen one:

- leave-one-domain-out over the trained domains: reviews, movie snippets and Amazon snippets, each
  scored by a classifier fitted on the other two (their training rows only);
- real chat: messages from the ``chitchat-dataset`` package (MIT, 258k messages between people) that
  carry exactly one kind of emoticon, labelled positive or negative by it, the emoticon removed
  (distant supervision, Go et al. 2009), scored by the classifier fitted on all three trained domains.

When the workspace has posts labelled by the generator (``pulse train --steps teacher``), two more setups
are measured on the same stand-ins: those posts as one more training domain in every fit above, and the
taught head (a classifier fitted on the teacher's posts alone, for each C in ``TAUGHT_CS``), which has seen
none of the stand-ins, so each is scored whole. It prints macro-F1 per domain and the mean for each weight;
the best mean chooses the setup and the constants. (The chat
set has no neutral class: its macro-F1 is over negative and positive.) What it leaves out: a weight
per domain; NYT and tweets, which only ``pulse train`` reports.
"""

from __future__ import annotations

import argparse
import json
import re
import zipfile

import numpy as np

from pulse.config import load_settings

__all__ = ["chat_set", "emoticon_label", "main"]

CHITCHAT = ("chitchat-dataset==0.9.0", "7bf89f36645e2d5ec87d53370c8e851b5a688479c7beb7079cb4c87fc5acea3e")
_POS = re.compile(r"(:-?\)+|:-?D\b|;-?\)|=\)|\(:|<3|[😊😀😃😄😁🙂😍😂☺😆😉])")
_NEG = re.compile(r"(:-?\(+|:'\(|=\(|\):|[😢😭😞☹🙁😠😡😔😟])")
WEIGHTS = (0.0, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 1.0)
TAUGHT_CS = (0.5, 2.0)


def emoticon_label(message: str) -> tuple[str, int] | None:
    """(the message without its emoticons, 0 negative or 2 positive); None without exactly one kind, or too short."""
    pos, neg = bool(_POS.search(message)), bool(_NEG.search(message))
    text = re.sub(r"\s+", " ", _NEG.sub(" ", _POS.sub(" ", message))).strip()
    return (text, 2 if pos else 0) if pos != neg and len(text) >= 8 else None


def chat_set(cache_dir) -> list[tuple[str, int]]:
    """:func:`emoticon_label` of each distinct chat message in the ``chitchat-dataset`` wheel that has one."""
    from pulse.registry import download_wheel

    wheel = download_wheel(CHITCHAT[0], cache_dir / "wheels", sha256=CHITCHAT[1])
    with zipfile.ZipFile(wheel) as z:
        data = json.loads(z.read("chitchat_dataset/dataset.json"))
    out: dict[str, int] = {}
    for conv in data.values():
        for group in conv["messages"]:
            for m in group:
                r = emoticon_label(m["text"])
                if r is not None:
                    out.setdefault(*r)
    return list(out.items())


def main(argv: list[str] | None = None) -> int:
    from sklearn.metrics import f1_score

    from retrieval import Index
    from tools.sentiment import SentimentModel, _embed_cached, labelled_domains
    from workspace import Workspace

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", default="demo-workspace")
    args = ap.parse_args(argv)
    s = load_settings(workspace=args.workspace)
    with Workspace.open(s.workspace, read_only=True) as ws:
        index = Index.open(ws, s)
        # the training parts only: held-out rows, NYT and tweets stay out of the choice
        found = [d for d in labelled_domains(ws, index, s.cache_dir, index.embedder) if len(d.train)]
        domains = {
            d.name.split(" (")[0]: (np.stack(d.train["vec"]), d.train["text"].tolist(), d.train["label"].to_numpy())
            for d in found
        }
        taught = [d.name.split(" (")[0] for d in found if d.taught]  # labelled by the generator (the teacher step)
        chat = chat_set(s.cache_dir)
        texts = [t for t, _ in chat]
        chat_dom = (_embed_cached(texts, index.embedder, s.cache_dir, "chat"), texts, np.array([y for _, y in chat]))
    human = [n for n in domains if n not in taught]  # people's labels
    extras = [taught] if taught else []

    def fitted(names):
        v = np.vstack([domains[n][0] for n in names])
        return SentimentModel().fit(v, sum((domains[n][1] for n in names), []), np.concatenate([domains[n][2] for n in names]))

    setups = []  # (name, {domain: (model, (vectors, texts, labels))}): each model never saw its domain
    for extra in [[], *extras]:
        scored = {held: (fitted([n for n in human if n != held] + extra), domains[held]) for held in human}
        scored["chat"] = (fitted(human + extra), chat_dom)
        setups.append(("with the teacher's posts in every fit" if extra else "people's labels only", scored))
    if extras:
        v, t, y = domains[taught[0]]
        for c in TAUGHT_CS:  # a classifier fitted on the posts alone is the taught head (same features, same _logreg)
            head = SentimentModel(C=c).fit(v, t, y)
            setups.append((f"the taught head (C {c})", {n: (head, domains[n]) for n in human} | {"chat": (head, chat_dom)}))
    best = (-1.0, 0.0, "")
    for setup, scored in setups:
        print(f"\n{setup}\n{'weight':>6}  " + "  ".join(f"{n:>8}" for n in scored) + "      mean")
        for w in WEIGHTS:
            f1s = []
            for name, (model, (v, t, y)) in scored.items():
                model.blend = w
                pred = np.argmax(model.proba(v, t, seen=False), axis=1)
                f1s.append(f1_score(y, pred, average="macro", labels=[0, 2] if name == "chat" else [0, 1, 2]))
            print(f"{w:>6.2f}  " + "  ".join(f"{f:>8.3f}" for f in f1s) + f"  {np.mean(f1s):>8.3f}", flush=True)
            best = max(best, (float(np.mean(f1s)), w, setup))
    print(f"best: weight {best[1]}, {best[2]} (mean macro-F1 {best[0]:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
