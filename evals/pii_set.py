"""A labelled set for PII detection: real texts as carriers, values of each kind planted with known spans.

    python -m evals.pii_set [WORKSPACE]     # precision and recall per kind, as a Markdown table

No real personal data may be collected, so the values are generated (with
valid checksums and in the formats people write them: ``(415) 555-0132``,
``+86 138 0013 8000``, ``4111-1111-1111-1111``, ``GB82 WEST 1234 ...``); the texts
around them are real reviews and posts from the workspace, with every number,
date, price, size and handle they already hold. Half the texts get one planted
value; a quarter get a lookalike that is not personal data (an order number that
fails Luhn, a tracking code, an ISBN, a time, a version number); a quarter stay as
they are. A detection outside a planted span is a false positive. The planted
formats include ones the patterns are known to miss (national phone numbers
without a country code, "name at example dot com"), so recall is not 1 by design.
Person names are scored separately (NER is opt-in, ``pulse privacy --names on``).

What it leaves out: Chinese carrier text (the Chinese patterns are unit-tested
in tests/test_privacy.py), street addresses.
"""

from __future__ import annotations

import random
import sys
from collections import Counter

__all__ = ["build", "score", "format_table"]

_FIRST = ["anna", "li", "maria", "james", "wei", "sofia", "omar", "priya", "lucas", "yuki"]
_LAST = ["schmidt", "zhang", "garcia", "okafor", "nguyen", "rossi", "kim", "dubois", "patel", "novak"]
_NAMES = ["Anna Schmidt", "Maria Garcia", "James Okafor", "Sofia Rossi", "Lucas Dubois", "Priya Patel", "Omar Haddad"]
_SAY = {
    "EMAIL": ["email me at {v}", "my address is {v}", "contact {v} for details"],
    "PHONE": ["call me on {v}", "my number is {v}", "text {v} anytime"],
    "CARD": ["they charged card {v} twice", "my card number {v} was declined"],
    "IBAN": ["refund to IBAN {v} please", "account {v}"],
    "IP": ["the site blocked my IP {v}", "login from {v} failed"],
    "CN_ID": ["ID card {v}", "my id number is {v}"],
    "PERSON": ["my name is {v}", "signed, {v}", "{v} here, again"],
}


def _luhn_complete(body: str) -> str:
    """``body`` plus the check digit that makes it pass Luhn."""
    from workspace.privacy import _luhn

    return next(body + d for d in "0123456789" if _luhn(body + d))


def _iban(rng: random.Random) -> str:
    country, bban = rng.choice(
        [("DE", "".join(rng.choices("0123456789", k=18))), ("GB", "WEST" + "".join(rng.choices("0123456789", k=14)))]
    )
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4)) if rng.random() < 0.6 else raw


def _cn_id(rng: random.Random) -> str:
    body = f"{rng.choice(['110105', '310104', '440305', '510107'])}{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


def _value(kind: str, rng: random.Random) -> str:
    d = lambda k: "".join(rng.choices("0123456789", k=k))  # noqa: E731
    if kind == "EMAIL":
        if rng.random() < 0.1:  # written to dodge scrapers
            return f"{rng.choice(_FIRST)} at example dot com"
        return f"{rng.choice(_FIRST)}{rng.choice(['.', '_', ''])}{rng.choice(_LAST)}{rng.choice(['', d(2)])}@{rng.choice(['example.com', 'mail.example.org', 'example.co.uk'])}"
    if kind == "PHONE":
        return rng.choice(
            [
                f"({d(3)}) 555-{d(4)}",
                f"{d(3)}.555.{d(4)}",
                f"+1 {d(3)} 555 {d(4)}",
                f"+44 20 7946 {d(4)}",
                f"+86 138 {d(4)} {d(4)}",
                f"139{d(8)}",
                f"+49 30 {d(8)}",
                # national forms written without a country code: known misses
                f"{d(3)} 555 {d(4)}",
                f"07700 900{d(3)}",
                f"030 {d(8)}",
            ]
        )
    if kind == "CARD":
        if rng.random() < 0.2:  # American Express: 15 digits in 4-6-5
            num = _luhn_complete(rng.choice(["34", "37"]) + d(12))
            return f"{num[:4]} {num[4:10]} {num[10:]}"
        num = _luhn_complete(rng.choice(["4", "5"]) + d(14))
        sep = rng.choice([" ", "-", ""])
        return sep.join(num[i : i + 4] for i in range(0, 16, 4))
    if kind == "IBAN":
        return _iban(rng)
    if kind == "IP":
        if rng.random() < 0.75:
            return ".".join(str(rng.randint(1, 254)) for _ in range(4))
        return f"2001:db8:{rng.randint(1, 65535):x}::{rng.randint(1, 65535):x}"
    if kind == "CN_ID":
        return _cn_id(rng)
    return rng.choice(_NAMES)


def _lookalike(rng: random.Random) -> str:
    """Something that is not personal data but reads like it: what a detector must leave alone."""
    d = lambda k: "".join(rng.choices("0123456789", k=k))  # noqa: E731
    bad_luhn = next(n for n in (rng.choice("45") + d(15) for _ in range(20)) if not _luhn_ok(n))
    return rng.choice(
        [
            f"Order number {bad_luhn} never arrived.",
            f"Order #{d(8)} was late.",
            f"Tracking 1Z{''.join(rng.choices('ABCDEFGHJKLMNPRSTUVWXYZ0123456789', k=16))}.",
            f"ISBN 978-{d(1)}-{d(2)}-{d(6)}-{d(1)}.",
            f"Delivered on 2016-0{rng.randint(1, 9)}-{rng.randint(10, 28)} at {rng.randint(10, 23)}:{d(2)[:1]}5:{d(1)}0.",
            f"SKU {d(2)}-{d(4)}-{d(4)}, size 34DD, $1{d(2)}.99.",
            f"Version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)} fixed it.",
        ]
    )


def _luhn_ok(n: str) -> bool:
    from workspace.privacy import _luhn

    return _luhn(n)


def build(texts: list[str], kinds: tuple[str, ...], n: int = 600, seed: int = 0) -> list[tuple[str, list[tuple[str, int, int]]]]:
    """``n`` cases (text, planted spans): half carry one value of a random kind at a sentence end; a quarter
    a lookalike that is not personal data (an order number failing Luhn, a tracking code, an ISBN, a time,
    a version number); a quarter nothing."""
    rng = random.Random(seed)
    pool = [t for t in texts if 20 <= len(t) <= 600]
    cases: list[tuple[str, list[tuple[str, int, int]]]] = []
    for i in range(n):
        text = rng.choice(pool)
        if i % 4 == 1:
            cases.append((text.rstrip() + " " + _lookalike(rng), []))
            continue
        if i % 4 == 3:
            cases.append((text, []))
            continue
        kind = rng.choice(kinds)
        v = _value(kind, rng)
        phrase = rng.choice(_SAY[kind]).format(v=v)
        head = text.rstrip() + (" " if text.rstrip().endswith((".", "!", "?")) else ". ")
        start = len(head) + phrase.index(v)
        cases.append((head + phrase[0].upper() + phrase[1:] + ".", [(kind, start, start + len(v))]))
    return cases


def score(cases, names: bool = False) -> dict[str, dict]:
    """Per kind: true positives (a detection of that kind overlapping the planted span), false positives, misses."""
    from workspace.privacy import find

    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for text, planted in cases:
        found = find(text, names=names)
        for kind, a, b in planted:
            if any(s.kind == kind and s.start < b and a < s.end for s in found):
                tp[kind] += 1
            else:
                fn[kind] += 1
        for s in found:
            if not any(s.kind == k and s.start < b and a < s.end for k, a, b in planted):
                fp[s.kind] += 1
    out = {}
    for kind in sorted(set(tp) | set(fp) | set(fn)):
        p = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else None
        r = tp[kind] / (tp[kind] + fn[kind]) if tp[kind] + fn[kind] else None
        out[kind] = {"tp": tp[kind], "fp": fp[kind], "fn": fn[kind], "precision": p, "recall": r}
    return out


def format_table(scores: dict[str, dict]) -> str:
    f = lambda x: "" if x is None else f"{x:.3f}"  # noqa: E731
    lines = ["| kind | precision | recall | planted | false positives |", "|---|---|---|---|---|"]
    for kind, m in scores.items():
        lines.append(f"| {kind} | {f(m['precision'])} | {f(m['recall'])} | {m['tp'] + m['fn']} | {m['fp']} |")
    return "\n".join(lines)


PATTERN_KINDS = ("EMAIL", "PHONE", "CARD", "IBAN", "IP", "CN_ID")


def main(argv: list[str]) -> int:
    from workspace import Workspace

    with Workspace.open(argv[0] if argv else "demo-workspace", read_only=True) as ws:
        texts = [r[0] for r in ws.con.execute("SELECT text FROM documents WHERE kind IN ('review', 'post')").fetchall()]
    print("patterns, 2,000 real texts: 1,000 with one planted value, 500 with a lookalike, 500 as they are")
    print(format_table(score(build(texts, PATTERN_KINDS, n=2000))))
    print("\nperson names by NER (names on), 400 cases:")
    print(format_table(score(build(texts, ("PERSON",), n=400, seed=1), names=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
