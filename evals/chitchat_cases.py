"""Write the chit-chat part of ``evals/suites/chitchat.yaml`` from real human small talk.

    python -m evals.chitchat_cases PATH/TO/chitchat_dataset/dataset.json > cases.yaml

The source is the ``chitchat-dataset`` package (MIT; 7,168 real conversations
between people, see ../shared/notes/public-data.md). Each case is two turns
taken from one conversation: the first speaker's opening messages, then a later
question of theirs. Conversations are drawn with a fixed seed, alternately into
dev and test, and messages with digits (which could read as ids), links or
rude words are skipped. The agent must answer without calling a tool.

The same dataset gives the intent model its small talk, from the conversations
the cases did not use:

    python -m evals.chitchat_cases --smalltalk PATH/TO/chitchat_dataset/dataset.json > agent/intents/smalltalk.jsonl

What it leaves out: the hand-written out-of-scope requests, which live in the
suite file below the generated cases.
"""

from __future__ import annotations

import json
import random
import re
import sys

__all__ = ["draw_cases", "draw_smalltalk"]

_SKIP = re.compile(r"\d|https?:|www\.|@|\b(fuck|shit|sex|damn|hell|ass|bitch|kill|drunk|weed|porn|stupid|hate|suck)\w*", re.I)


def _ok(text: str) -> bool:
    return 2 <= len(text) <= 160 and not _SKIP.search(text)


def draw_cases(dataset: dict, n: int = 24, seed: int = 5) -> list[dict]:
    keys = sorted(dataset)
    random.Random(seed).shuffle(keys)
    cases: list[dict] = []
    for key in keys:
        groups = dataset[key]["messages"]
        if len(groups) < 3:
            continue
        first = groups[0]
        speaker = first[0]["sender"]
        opener = " ".join(m["text"].strip() for m in first)
        later = [m["text"].strip() for g in groups[2:] for m in g if m["sender"] == speaker and "?" in m["text"]]
        later = [t for t in later if _ok(t) and len(t) >= 12]
        if not _ok(opener) or not later:
            continue
        split = "dev" if len(cases) % 2 == 0 else "test"
        cases.append(
            {
                "id": f"chitchat-{key[:8]}",
                "split": split,
                "tags": ["chitchat"],
                "note": f"chitchat-dataset conversation {key}",
                "turns": [{"user": opener, "expect": {"tool": "none"}}, {"user": later[0], "expect": {"tool": "none"}}],
            }
        )
        if len(cases) == n:
            break
    return cases


def draw_smalltalk(dataset: dict, exclude_prefixes: set[str], n: int = 600, seed: int = 11) -> list[str]:
    """Up to ``n`` real small-talk messages, at most two per conversation, from conversations the eval suites
    did not draw (their ids start with one of ``exclude_prefixes``)."""
    rng = random.Random(seed)
    keys = sorted(k for k in dataset if k[:8] not in exclude_prefixes)
    rng.shuffle(keys)
    out: list[str] = []
    for key in keys:
        msgs = [m["text"].strip() for g in dataset[key]["messages"] for m in g]
        ok = [t for t in msgs if 2 <= len(t) <= 140 and not _SKIP.search(t)]
        out += rng.sample(ok, min(2, len(ok)))  # anywhere in the conversation, not only its greeting
        if len(out) >= n:
            break
    return out[:n]


def _drawn_case_prefixes() -> set[str]:
    from pathlib import Path

    from .suite import load_suite

    suites = Path(__file__).resolve().parent / "suites"
    return {
        c.id.removeprefix("chitchat-")[:8]
        for p in suites.glob("*.yaml")
        for c in load_suite(p).cases
        if c.id.startswith("chitchat-")
    }


def main(argv: list[str]) -> int:
    import yaml

    if argv and argv[0] == "--smalltalk":
        with open(argv[1]) as f:
            for t in draw_smalltalk(json.load(f), _drawn_case_prefixes()):
                print(json.dumps({"text": t}, ensure_ascii=False))
        return 0
    with open(argv[0]) as f:
        data = json.load(f)
    print(
        yaml.safe_dump(draw_cases(data, n=int(argv[1]) if len(argv) > 1 else 24), sort_keys=False, allow_unicode=True, width=120),
        end="",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
