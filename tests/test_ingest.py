"""Importing users' files. Bad input we tried: a non-numeric rating, an unparseable date,
a missing required column, a malformed JSONL line, a --map to a field that does not exist,
an unsupported file type, and a file that is not valid CSV."""

import json

import pandas as pd
import pytest

from workspace import IngestError, Workspace, ingest


def _count(ws, table):
    return ws.query(f"SELECT count(*) AS n FROM {table}")[0]["n"]


@pytest.fixture
def ws(tmp_path):
    with Workspace.open(tmp_path / "ws") as w:
        yield w


def test_csv_with_mapping_parses_types_and_reimport_does_not_duplicate(ws, tmp_path):
    f = tmp_path / "reviews.csv"
    f.write_text(
        'id,Review Text,stars,date,product\nr1,Runs small so size up,2,2024-03-01,p9\nr2,"Lovely, soft fabric",5,2024-03-02,p9\n'
    )
    m = {"id": "review_id", "Review Text": "text", "stars": "rating", "date": "created_at", "product": "product_id"}
    rep = ingest(ws, "reviews", f, m, progress=False)
    assert (rep.rows, rep.inserted, rep.replaced) == (2, 2, 0)
    row = ws.query("SELECT rating, created_at, text FROM reviews WHERE review_id = 'r2'")[0]
    assert row["rating"] == 5 and row["created_at"].year == 2024 and row["text"] == "Lovely, soft fabric"
    rep = ingest(ws, "reviews", f, m, progress=False)
    assert (rep.inserted, rep.replaced) == (0, 2)
    assert _count(ws, "reviews") == 2


def test_bad_value_names_file_row_column_and_imports_nothing(ws, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("review_id,text,rating\nr1,fine,4\nr2,meh,five\nr3,ok,3\n")
    with pytest.raises(IngestError) as e:
        ingest(ws, "reviews", f, progress=False)
    msg = str(e.value)
    assert "bad.csv, row 2, column 'rating': 'five' is not a valid int" in msg
    assert "nothing was imported" in msg
    assert _count(ws, "reviews") == 0  # all-or-nothing


def test_bad_date_and_missing_required_value(ws, tmp_path):
    f = tmp_path / "orders.csv"
    f.write_text("order_id,customer_id,order_date,total\no1,c1,2024-01-05,10\no2,,2024-01-06,5\no3,c2,yesterday-ish,7\n")
    with pytest.raises(IngestError) as e:
        ingest(ws, "orders", f, progress=False)
    assert [(r, c) for r, c, _, _ in e.value.errors] == [(2, "customer_id"), (3, "order_date")]
    assert _count(ws, "orders") == 0


def test_missing_required_column_says_how_to_map(ws, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("code,title\n1,Shirt\n")  # "code" is no name or synonym of product_id: nothing can guess it
    with pytest.raises(IngestError, match=r"required field\(s\) \['product_id'\].*--map"):
        ingest(ws, "products", f, {"title": "name"}, progress=False)
    rep = ingest(ws, "products", f, {"code": "product_id", "title": "name"}, progress=False)
    assert rep.inserted == 1


def test_map_to_unknown_field_and_unknown_kind(ws, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("sku,title\n1,Shirt\n")
    with pytest.raises(IngestError, match="not a products field"):
        ingest(ws, "products", f, {"sku": "colour"}, progress=False)
    with pytest.raises(ValueError, match="unknown kind"):
        ingest(ws, "invoices", f, progress=False)


def test_jsonl_and_parquet_and_malformed_line(ws, tmp_path):
    good = tmp_path / "posts.jsonl"
    good.write_text(
        "\n".join(
            json.dumps({"post_id": str(i), "text": f"post {i}", "created_at": "2020-05-0%dT10:00:00Z" % (i + 1)})
            for i in range(3)
        )
    )
    assert ingest(ws, "posts", good, progress=False).inserted == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"post_id": "9", "text": "ok"}\n{"post_id": "10", "text": \n')
    with pytest.raises(IngestError, match=r"bad.jsonl, row 2.*not valid JSON"):
        ingest(ws, "posts", bad, progress=False)
    pq = tmp_path / "ratings.parquet"
    pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["i1", "i1"], "rating": [4.0, 2.5]}).to_parquet(pq)
    assert ingest(ws, "ratings", pq, progress=False).inserted == 2
    assert _count(ws, "posts") == 3


def test_unsupported_type_and_invalid_csv(ws, tmp_path):
    x = tmp_path / "data.xlsx"
    x.write_bytes(b"PK\x03\x04")
    with pytest.raises(IngestError, match="unsupported file type"):
        ingest(ws, "posts", x, progress=False)
    c = tmp_path / "broken.csv"
    c.write_text('post_id,text\n1,"unterminated\n2,b,c,d,e\n')
    with pytest.raises(IngestError, match="broken.csv"):
        ingest(ws, "posts", c, progress=False)


def test_rows_without_ids_get_stable_ids(ws, tmp_path):
    f = tmp_path / "orders.csv"
    f.write_text("customer_id,order_date,total\nc1,2024-01-05,10\nc1,2024-01-05,10\nc2,2024-01-06,5\n")
    assert ingest(ws, "orders", f, progress=False).inserted == 3  # identical rows stay distinct
    assert ingest(ws, "orders", f, progress=False).inserted == 0  # and re-import is idempotent
    assert _count(ws, "orders") == 3


def test_order_line_items_become_orders_and_items(ws, tmp_path):
    f = tmp_path / "lines.csv"
    f.write_text(
        "order_id,customer_id,order_date,product_id,quantity,price\n"
        "o1,c1,2024-02-01,p1,2,5.0\no1,c1,2024-02-01,p2,1,3.5\no2,c2,2024-02-02,p1,1,5.0\n"
    )
    ingest(ws, "orders", f, progress=False)
    o = ws.query("SELECT order_id, total, n_items FROM orders ORDER BY order_id")
    assert o == [{"order_id": "o1", "total": 13.5, "n_items": 3}, {"order_id": "o2", "total": 5.0, "n_items": 1}]
    assert _count(ws, "order_items") == 3
