"""Import a user's CSV, Parquet or JSONL file into one workspace table.

    >>> report = ingest(ws, "reviews", Path("reviews.csv"), mapping={"Review Text": "text"})  # doctest: +SKIP
    >>> report.inserted, report.skipped_duplicates                                              # doctest: +SKIP
    (120, 0)

Rules:

* Columns map to schema fields by ``mapping`` (``source column -> field``),
  else by name or a common synonym (:func:`guess_mapping`: ``userId`` ->
  ``user_id``, ``timestamp`` -> ``rated_at``). Columns no field takes are
  listed in the report's ``ignored``, never dropped silently.
* Dates parse from ISO and other common forms, ``YYYYMMDD``, and Unix epoch
  seconds or milliseconds.
* Every value is parsed to its field's type first. Any bad value (or missing
  required one) raises :class:`IngestError` naming the file, the row, the
  column and the value, and nothing is written: an import is all-or-nothing.
* Rows whose key already exists replace the stored row, so re-importing a
  file never duplicates it. Rows without an id get a stable one, derived from
  their content, so that re-imports stay idempotent.
* ``orders`` rows may carry ``product_id``/``quantity``/``price``: they are
  then line items, grouped into orders plus ``order_items``.
* Personal data in free text and customers' fields is masked, pseudonymised or
  kept, as the workspace's PII policy says (``workspace/privacy.py``).

What it leaves out: embedding the new documents, which the caller does next
(``retrieval.Index.update``), and fuzzy column guessing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from pulse.errors import UserError

from . import privacy
from .db import Workspace

__all__ = ["ingest", "IngestError", "IngestReport", "FIELDS", "KINDS", "read_table", "guess_mapping"]


@dataclass(frozen=True)
class Field_:
    type: str  # str | int | float | datetime | date | bool
    required: bool = False


F = Field_

#: kind -> (table, key columns, fields). The schema in schema.sql, seen from an importer.
FIELDS: dict[str, tuple[str, tuple[str, ...], dict[str, Field_]]] = {
    "posts": (
        "posts",
        ("post_id",),
        {
            "post_id": F("str"),
            "author": F("str"),
            "text": F("str", True),
            "created_at": F("datetime"),
            "source": F("str"),
            "likes": F("int"),
            "shares": F("int"),
            "is_repost": F("bool"),
        },
    ),
    "products": (
        "products",
        ("product_id",),
        {
            "product_id": F("str", True),
            "name": F("str", True),
            "category": F("str"),
            "department": F("str"),
            "division": F("str"),
            "description": F("str"),
            "price": F("float"),
        },
    ),
    "customers": (
        "customers",
        ("customer_id",),
        {
            "customer_id": F("str", True),
            "name": F("str"),
            "email": F("str"),
            "zip": F("str"),
            "created_at": F("datetime"),
        },
    ),
    "orders": (
        "orders",
        ("order_id",),
        {
            "order_id": F("str"),
            "customer_id": F("str", True),
            "order_date": F("date", True),
            "total": F("float"),
            "n_items": F("int"),
            "status": F("str"),
            "product_id": F("str"),
            "quantity": F("int"),
            "price": F("float"),
        },
    ),
    "reviews": (
        "reviews",
        ("review_id",),
        {
            "review_id": F("str"),
            "product_id": F("str"),
            "customer_id": F("str"),
            "rating": F("int"),
            "title": F("str"),
            "text": F("str", True),
            "created_at": F("datetime"),
            "recommended": F("bool"),
            "helpful": F("int"),
            "age": F("int"),
        },
    ),
    "ratings": (
        "ratings",
        ("user_id", "item_id"),
        {
            "user_id": F("str", True),
            "item_id": F("str", True),
            "rating": F("float", True),
            "rated_at": F("datetime"),
        },
    ),
    "help": (
        "help_articles",
        ("article_id",),
        {
            "article_id": F("str"),
            "title": F("str", True),
            "text": F("str", True),
            "updated_at": F("datetime"),
        },
    ),
}
KINDS = tuple(FIELDS)

#: Other names people give a field's column (normalised: lower case, "_" for spaces and dashes).
_SYNONYMS = {
    "text": ("review_text", "body", "content", "comment", "message", "tweet", "post", "review"),
    "rating": ("stars", "star_rating", "score", "rating_value"),
    "product_id": ("product", "item", "item_id", "sku", "clothing_id", "asin"),
    "customer_id": ("customer", "user", "user_id", "client_id", "buyer_id"),
    "created_at": ("date", "time", "timestamp", "created", "posted_at", "review_date"),
    "order_date": ("date", "ordered_at", "purchase_date"),
    "total": ("amount", "order_total", "value", "revenue"),
    "title": ("headline", "subject", "summary"),
    "name": ("product_name", "title"),
    "author": ("user", "username", "screen_name", "handle"),
    "user_id": ("user", "userid", "uid", "customer_id", "reviewer_id", "visitor_id", "visitorid"),
    "item_id": ("item", "itemid", "movie_id", "product_id", "sku", "asin", "book_id", "track_id", "isbn"),
    "rated_at": ("timestamp", "time", "date", "datetime", "created_at", "event_time", "ts"),
}


def _norm(col: str) -> str:
    """``"Review Text"`` -> ``review_text``, ``"userId"`` -> ``user_id``."""
    col = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(col).strip())
    return re.sub(r"_+", "_", "".join(ch if ch.isalnum() else "_" for ch in col.lower())).strip("_")


def guess_mapping(columns, kind: str) -> dict[str, str]:
    """``{source column: field}`` for the columns whose name (or a common synonym) matches a field of ``kind``.

    >>> guess_mapping(["Review ID", "Stars", "Review Text", "Clothing ID"], "reviews")
    {'Review ID': 'review_id', 'Stars': 'rating', 'Review Text': 'text', 'Clothing ID': 'product_id'}
    """
    fields = FIELDS[kind][2]
    out: dict[str, str] = {}
    taken: set[str] = set()
    cols = list(columns)
    for exact in (True, False):  # exact names first, so a synonym never steals a field named outright
        for c in cols:
            if c in out:
                continue
            n = _norm(c)
            for f in fields:
                if f in taken:
                    continue
                if (exact and n == f) or (not exact and n in _SYNONYMS.get(f, ())):
                    out[c] = f
                    taken.add(f)
                    break
    return {c: out[c] for c in cols if c in out}


_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}
_MAX_ERRORS = 20


class IngestError(UserError):
    """Bad input. ``errors`` lists ``(row, column, value, reason)``; rows are 1-based data rows."""

    def __init__(self, file: Path, errors: list[tuple[int, str, str, str]], extra: str = ""):
        self.file = file
        self.errors = errors
        lines = [f"{file.name}, row {r}, column '{c}': {v!r} {why}" for r, c, v, why in errors[:_MAX_ERRORS]]
        more = f"\n... and {len(errors) - _MAX_ERRORS} more" if len(errors) > _MAX_ERRORS else ""
        head = extra or f"{len(errors)} bad value(s) in {file}; nothing was imported"
        super().__init__(head + ("\n" + "\n".join(lines) if lines else "") + more)


@dataclass
class IngestReport:
    kind: str
    file: Path
    rows: int
    inserted: int
    replaced: int
    skipped_duplicates: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # the file's columns no field took


def read_table(path: Path, progress: bool = True) -> pd.DataFrame:
    """Read CSV, Parquet or JSONL as strings-or-native, with a progress bar for big files."""
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix in (".gz", ".brotli") else path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if suffix.startswith(".parquet"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        parts = []
        with tqdm(total=pf.metadata.num_rows, desc=f"reading {path.name}", unit="row", disable=not progress) as bar:
            for batch in pf.iter_batches(batch_size=50_000):
                parts.append(batch.to_pandas())
                bar.update(batch.num_rows)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if suffix in (".csv", ".tsv", ".txt") or suffix.startswith(".csv"):
        sep = "\t" if suffix == ".tsv" else ","
        try:
            total = sum(1 for _ in path.open("rb")) - 1
            chunks = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], chunksize=50_000, sep=sep)
            parts = []
            with tqdm(total=total, desc=f"reading {path.name}", unit="row", disable=not progress) as bar:
                for c in chunks:
                    parts.append(c)
                    bar.update(len(c))
        except pd.errors.ParserError as e:
            raise IngestError(path, [], extra=f"{path.name} is not valid CSV: {e}; nothing was imported") from e
        except UnicodeDecodeError as e:
            raise IngestError(path, [], extra=f"{path.name} is not UTF-8 text ({e}); nothing was imported") from e
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = []
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(tqdm(f, desc=f"reading {path.name}", unit="row", disable=not progress), start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise IngestError(path, [(n, "(line)", line[:80].strip(), f"is not valid JSON: {e.msg}")]) from e
                if not isinstance(obj, dict):
                    raise IngestError(path, [(n, "(line)", line[:80].strip(), "is not a JSON object")])
                rows.append(obj)
        return pd.DataFrame(rows)
    raise IngestError(path, [], extra=f"{path.name}: unsupported file type {suffix!r} (use .csv, .parquet or .jsonl)")


def _parse(series: pd.Series, typ: str) -> tuple[pd.Series, pd.Series]:
    """Return (parsed values, mask of values that failed to parse)."""
    present = series.notna() & (series.astype(str).str.strip() != "")
    s = series.where(present)
    if typ == "str":
        return s.astype("string").str.strip(), pd.Series(False, index=s.index)
    if typ in ("int", "float"):
        num = pd.to_numeric(s, errors="coerce")
        bad = present & num.isna()
        if typ == "int":
            frac = present & num.notna() & ((num % 1 != 0) | (num.abs() >= 2**63))  # beyond int64 is bad input
            bad |= frac
            return num.where(~bad).astype("Int64"), bad
        return num.astype("Float64"), bad
    if typ in ("datetime", "date"):
        txt = s.dropna().astype(str).str.strip().str.replace(r"\.0+$", "", regex=True)
        if len(txt) and txt.str.fullmatch(r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])").all():
            parsed = pd.to_datetime(s.astype("string").str.replace(r"\.0+$", "", regex=True), format="%Y%m%d", errors="coerce")
        elif len(txt) and txt.str.fullmatch(r"-?\d{9,13}(?:\.\d+)?").all():
            # Unix epoch: seconds (9-10 digits, 1973-2286) or milliseconds (12-13 digits)
            num = pd.to_numeric(s, errors="coerce")
            unit = "ms" if num.abs().max() >= 1e11 else "s"
            parsed = pd.to_datetime(num, unit=unit, errors="coerce")
        else:
            parsed = pd.to_datetime(s, errors="coerce", utc=True, format="mixed").dt.tz_localize(None)
        bad = present & parsed.isna()
        return (parsed.dt.normalize() if typ == "date" else parsed), bad
    if typ == "bool":
        low = s.astype("string").str.strip().str.lower()
        val = low.map(lambda v: True if v in _TRUE else False if v in _FALSE else None, na_action="ignore")
        bad = present & val.isna()
        return val.astype("boolean"), bad
    raise ValueError(typ)


def _stable_id(df: pd.DataFrame, prefix: str) -> pd.Series:
    """Content hash plus occurrence number: identical rows in one file stay distinct, re-imports match."""
    canon = df.astype(str).agg("\x1f".join, axis=1)
    occ = canon.groupby(canon).cumcount().astype(str)
    return (canon + "\x1e" + occ).map(lambda s: prefix + hashlib.sha1(s.encode()).hexdigest()[:16])


def ingest(
    ws: Workspace, kind: str, path: Path, mapping: dict[str, str] | None = None, progress: bool = True, in_txn: bool = False
) -> IngestReport:
    """Validate the whole file, then write it in one transaction (the caller's, with ``in_txn``). See the module
    docstring."""
    if kind not in FIELDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    table, keys, fields = FIELDS[kind]
    path = Path(path)
    raw = read_table(path, progress=progress)
    mapping = dict(mapping or {})
    for src, dst in mapping.items():
        if src not in raw.columns:
            raise IngestError(
                path,
                [],
                extra=f"{path.name}: --map names column {src!r}, which the file does not have (it has {list(raw.columns)})",
            )
        if dst not in fields:
            raise IngestError(path, [], extra=f"{path.name}: --map target {dst!r} is not a {kind} field ({', '.join(fields)})")
    # the user's --map first, then the file's own names and their common synonyms (as the web Data tab guesses)
    guessed = {f: c for c, f in guess_mapping([c for c in raw.columns if c not in mapping], kind).items()}
    columns: dict[str, str] = {}
    for name in fields:
        col = next((s for s, d in mapping.items() if d == name), None) or guessed.get(name)
        if col is not None:
            columns[name] = col
    ignored = [c for c in raw.columns if c not in set(columns.values())]
    missing = [n for n, f in fields.items() if f.required and n not in columns]
    if missing:
        raise IngestError(
            path,
            [],
            extra=(
                f"{path.name}: no column for required field(s) {missing} of {kind}; "
                f"the file has {list(raw.columns)}. Map one with --map SOURCE=FIELD. Nothing was imported."
            ),
        )

    out = pd.DataFrame(index=raw.index)
    errors: list[tuple[int, str, str, str]] = []
    for name, src in columns.items():
        f = fields[name]
        parsed, bad = _parse(raw[src], f.type)
        for i in raw.index[bad]:
            errors.append((int(i) + 1, src, str(raw.at[i, src])[:80], f"is not a valid {f.type}"))
        if f.required:
            for i in raw.index[parsed.isna() & ~bad]:
                errors.append((int(i) + 1, src, "", "is empty but required"))
        out[name] = parsed
    if errors:
        errors.sort()
        raise IngestError(path, errors)

    if kind == "orders" and "product_id" in out:
        return replace(_ingest_line_items(ws, path, out, columns, in_txn), ignored=ignored)

    for key in keys:
        if key not in out:
            out[key] = _stable_id(raw[list(columns.values())], prefix=kind[0])
    out = _private(ws, kind, out)
    if kind == "orders" and "total" not in out:
        raise IngestError(path, [], extra=f"{path.name}: orders need a 'total' column (or product_id/quantity/price line items)")
    out = out.drop_duplicates(subset=list(keys), keep="last")
    return replace(_write(ws, kind, path, table, keys, out, len(raw), columns, in_txn), ignored=ignored)


#: Free-text fields that may hold personal data, per kind; customers' own fields are handled in _private.
_PII_TEXT = {"posts": ("text",), "reviews": ("title", "text"), "products": ("description",)}


def _private(ws, kind: str, out: pd.DataFrame) -> pd.DataFrame:
    """Apply the workspace's PII policy (workspace/privacy.py) to the rows before they are stored."""
    policy = ws.get_meta("pii_policy") or "mask"
    if policy == "keep":
        return out
    names = ws.get_meta("pii_names") == "true"
    key = privacy.workspace_key(ws.path) if policy == "pseudonymise" or kind == "customers" else None
    for col in _PII_TEXT.get(kind, ()):
        if col in out:
            out[col] = out[col].map(lambda t: privacy.redact(t, policy, key, names) if isinstance(t, str) else t)
    if kind == "customers" and key is not None:
        if "email" in out:  # a keyed hash: support sign-in still compares (privacy.same_value)
            out["email"] = out["email"].map(lambda v: privacy.token("EMAIL", v, key) if isinstance(v, str) and v.strip() else v)
        if "name" in out:
            named = key if policy == "pseudonymise" else None
            out["name"] = out["name"].map(lambda v: privacy.token("PERSON", v, named) if isinstance(v, str) and v.strip() else v)
    return out


def _ingest_line_items(ws, path, items: pd.DataFrame, columns, in_txn: bool = False) -> IngestReport:
    if "order_id" not in items:
        raise IngestError(path, [], extra=f"{path.name}: line items (product_id) need an order_id column")
    blank = [
        (int(i) + 1, columns[c], "", "is empty, but a line item needs it")
        for c in ("order_id", "product_id")
        for i in items.index[items[c].isna()]
    ]
    if blank:  # grouping would drop these lines silently
        raise IngestError(path, sorted(blank))
    items["quantity"] = items.get("quantity", pd.Series(1, index=items.index)).fillna(1)
    if "total" not in items:
        items["total"] = items["quantity"] * items.get("price", pd.Series(0.0, index=items.index)).fillna(0)
    orders = items.groupby("order_id", as_index=False).agg(
        customer_id=("customer_id", "first"),
        order_date=("order_date", "first"),
        total=("total", "sum"),
        n_items=("quantity", "sum"),
        **({"status": ("status", "first")} if "status" in items else {}),
    )
    li = items[["order_id", "product_id", "quantity"] + (["price"] if "price" in items else [])]
    li = li.groupby(["order_id", "product_id"], as_index=False).agg(
        quantity=("quantity", "sum"), **({"price": ("price", "first")} if "price" in li else {})
    )
    if not in_txn:
        ws.con.execute("BEGIN TRANSACTION")
    try:
        report = _write(ws, "orders", path, "orders", ("order_id",), orders, len(items), columns, in_txn=True)
        _write(ws, "orders", path, "order_items", ("order_id", "product_id"), li, len(items), columns, in_txn=True)
        if not in_txn:
            ws.con.execute("COMMIT")
    except BaseException:
        if not in_txn:
            ws.con.execute("ROLLBACK")
        raise
    return report


def _write(ws, kind, path, table, keys, df: pd.DataFrame, n_rows, columns, in_txn=False) -> IngestReport:
    con = ws.con
    table_cols = {
        r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()
    }
    df = df[[c for c in df.columns if c in table_cols]]
    key_sql = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    con.register("_incoming", df)
    try:
        existing = con.execute(f"SELECT count(*) FROM {table} t JOIN _incoming s ON {key_sql}").fetchall()[0][0]
        cols = ", ".join(df.columns)
        if not in_txn:
            con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"INSERT OR REPLACE INTO {table} ({cols}) SELECT {cols} FROM _incoming")
            if not in_txn:
                con.execute("COMMIT")
        except Exception as e:
            if not in_txn:
                con.execute("ROLLBACK")
            raise IngestError(path, [], extra=f"{path.name}: the database refused the rows ({e}); nothing was imported") from e
    finally:
        con.unregister("_incoming")
    return IngestReport(kind, path, n_rows, inserted=len(df) - existing, replaced=existing, columns=columns)
