"""The registry, and the three look-up tools against the real demo workspace. Bad input we tried: an unknown
product, an unknown customer, a write statement, two statements, a file-reading table
function, an undocumented table, a runaway query, and arguments of the wrong type."""

import re
from dataclasses import replace

import pytest

from pulse.lang import language_of
from retrieval import Index
from tools import REGISTRY, ToolContext, ToolError
from workspace import Workspace


@pytest.fixture(scope="module")
def ctx(demo_ws, settings_factory, embedder):
    s = settings_factory(demo_ws, sql_row_limit=50, sql_timeout_s=1.0)
    ws = Workspace.open(demo_ws, read_only=True)
    yield ToolContext(ws, Index.open(ws, s, embedder), s)
    ws.close()


def run(ctx, name, **args):
    return REGISTRY[name].run(ctx, args)


def test_registry_exposes_typed_tools():
    assert set(REGISTRY) == {
        "search_corpus",
        "shop_lookup",
        "sql_query",
        "sentiment",
        "topics",
        "entities",
        "recommend",
        "forecast",
        "customer_profile",
        "review_analysis",
        "alerts",
        "draft_reply",
    }
    for t in REGISTRY.values():
        assert t.description and len(t.examples) >= 4 and t.schema()["type"] == "object"
        assert t.schema()["additionalProperties"] is False


def test_customer_lookup_matches_sql(ctx):
    truth = ctx.ws.query("SELECT count(*) AS n, round(sum(total), 2) AS s FROM orders WHERE customer_id = '42'")[0]
    r = run(ctx, "shop_lookup", entity="customer", id=42)
    assert r.data["orders"] == truth["n"] and r.data["total_spent"] == truth["s"]
    assert f"placed {truth['n']} orders" in r.summary and f"${truth['s']:,.2f}" in r.summary
    orders = run(ctx, "shop_lookup", entity="orders", id="42")
    assert len(orders.data["recent_orders"]) == truth["n"]


def test_product_lookup_has_review_stats(ctx):
    pid = ctx.ws.query("SELECT product_id FROM reviews GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0]["product_id"]
    r = run(ctx, "shop_lookup", entity="product", id=pid)
    n = ctx.ws.query("SELECT count(*) AS n FROM reviews WHERE product_id = ?", [pid])[0]["n"]
    assert r.data["reviews"] == n and f"{n} reviews" in r.summary


def test_unknown_ids_and_bad_arguments_give_clear_errors(ctx):
    with pytest.raises(ToolError, match="no product with id 'nope-999'"):
        run(ctx, "shop_lookup", entity="product", id="nope-999")
    with pytest.raises(ToolError, match="no customer"):
        run(ctx, "shop_lookup", entity="customer", id="99999999")
    with pytest.raises(ToolError, match="bad argument entity"):
        run(ctx, "shop_lookup", entity="invoice", id="1")


def test_search_returns_citable_sources(ctx):
    r = run(ctx, "search_corpus", query="dress sizing runs small", kind="review")
    assert len(r.sources) == ctx.settings.top_k and r.summary.startswith("[1] (review")
    assert all(s["kind"] == "review" and s["doc_id"] for s in r.sources)


def test_sql_answers_aggregates(ctx):
    r = run(
        ctx,
        "sql_query",
        sql="SELECT count(*) AS n FROM orders WHERE order_date >= DATE '1998-03-01' AND order_date < DATE '1998-04-01'",
    )
    assert (
        r.data["rows"][0][0]
        == ctx.ws.query("SELECT count(*) AS n FROM orders WHERE year(order_date) = 1998 AND month(order_date) = 3")[0]["n"]
        > 0
    )


@pytest.mark.parametrize(
    "sql, why",
    [
        ("DELETE FROM orders", "only SELECT"),
        ("DROP TABLE orders", "only SELECT"),
        ("SELECT 1; DELETE FROM orders", "exactly one statement"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("SELECT * FROM embeddings", "not allowed"),
        ("SELECT * FROM information_schema.tables", "not allowed"),
        ("SELECT getenv('HOME')", "getenv"),
        ("SELEC nothing", "does not parse"),
    ],
)
def test_sql_guard_refuses(ctx, sql, why):
    with pytest.raises(ToolError, match=why):
        run(ctx, "sql_query", sql=sql)
    assert ctx.ws.query("SELECT count(*) AS n FROM orders")[0]["n"] == 69_659  # nothing changed


def test_sql_row_limit_and_timeout(ctx):
    r = run(ctx, "sql_query", sql="SELECT order_id FROM orders")
    assert len(r.data["rows"]) == 50 and r.data["truncated"]
    with pytest.raises(ToolError, match="timeout"):
        run(ctx, "sql_query", sql="SELECT count(*) FROM orders a, orders b, orders c WHERE a.total + b.total > c.total")


def test_sql_tool_leaves_the_connection_ready_for_other_tools(ctx):
    # the SQL check once left a half-read result on the shared connection; the next tool's query then failed
    run(ctx, "sql_query", sql="SELECT count(*) AS n FROM orders")
    assert ctx.ws.con.sql("SELECT count(*) AS n FROM orders WHERE customer_id = ?", params=["42"]).fetchall()[0][0] > 0


def test_placeholders_and_ids_are_normalised_once_for_every_tool():
    from tools.base import clean_id, optional

    assert [optional(v) for v in ("none", " N/A ", "", "any", "all", "0", None, 3)] == [None] * 5 + ["0", None, 3]
    assert clean_id("#42 ") == clean_id(42) == "42" and clean_id(None) is None


@pytest.mark.parametrize(
    "sql",
    [
        # a CTE only applies in its own scope: one defined in a subquery must not let a file or a hidden table through
        "SELECT * FROM (WITH \"{f}\" AS (SELECT 1) SELECT 1) a, '{f}'",
        "SELECT * FROM (WITH meta AS (SELECT 1) SELECT 1) a, meta",
        "SELECT * FROM (WITH embeddings AS (SELECT 1) SELECT 1) a, embeddings",
        "SELECT * FROM duckdb_databases()",
        "SHOW ALL TABLES",
        "DESCRIBE orders",
    ],
)
def test_sql_sandbox_refuses_shadowed_files_hidden_tables_and_the_catalog(ctx, tmp_path, sql):
    f = tmp_path / "secret.csv"
    f.write_text("token\nhunter2\n")
    with pytest.raises(ToolError):
        run(ctx, "sql_query", sql=sql.format(f=f))


def test_duckdb_itself_refuses_file_access_on_the_agents_connection(ctx, tmp_path):
    import duckdb

    f = tmp_path / "secret.csv"
    f.write_text("token\nhunter2\n")
    # past the allow-list (called on the raw connection), DuckDB's own sandbox still says no, and cannot be turned off
    with pytest.raises(duckdb.PermissionException):
        ctx.ws.con.execute(f"SELECT * FROM read_csv('{f}')").fetchall()
    with pytest.raises(duckdb.Error, match="configuration"):
        ctx.ws.con.execute("SET enable_external_access = true")
    assert ctx.ws.query("SELECT count(*) AS n FROM orders")[0]["n"] > 0  # the workspace itself still reads


def test_sql_results_are_capped_in_bytes_not_only_rows(ctx):
    r = run(ctx, "sql_query", sql="SELECT repeat('x', 20000000) AS big")
    assert len(r.data["rows"][0][0]) <= 2_001
    r = run(ctx, "sql_query", sql="SELECT repeat('y', 1500) AS v FROM range(50)")
    assert sum(len(row[0]) for row in r.data["rows"]) <= 200_000 and r.data["truncated"] is False


def test_an_untrained_workspace_gives_tool_errors_not_crashes(ctx):
    # the demo workspace here is not trained: models are missing, which the user fixes with `pulse train`
    from pulse.errors import UserError

    for name, args in (("recommend", {"user_id": "42"}), ("sentiment", {"text": "love it"}), ("sentiment", {"query": "dresses"})):
        with pytest.raises(ToolError, match="pulse train") as e:
            run(ctx, name, **args)
        assert isinstance(e.value, UserError)


_FIGURE = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")


def test_summaries_asked_in_chinese_are_chinese_and_carry_the_english_figures(toolbox):
    ws = toolbox.ctx.ws
    cid = ws.query("SELECT customer_id FROM orders GROUP BY 1 HAVING count(*) >= 3 ORDER BY 1 LIMIT 1")[0]["customer_id"]
    pid = ws.query("SELECT product_id FROM reviews GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0]["product_id"]
    zh = replace(toolbox.ctx, lang="zh")
    calls = [
        ("sentiment", {}),
        ("sentiment", {"by": "month", "kind": "review"}),
        ("sentiment", {"by": "product"}),
        ("sentiment", {"text": "the zipper broke on day one"}),
        ("alerts", {}),
        ("forecast", {"metric": "orders", "horizon": "8", "freq": "W"}),
        ("customer_profile", {"customer_id": cid}),
        ("shop_lookup", {"entity": "customer", "id": cid}),
        ("shop_lookup", {"entity": "orders", "id": cid}),
        ("shop_lookup", {"entity": "product", "id": pid}),
        ("review_analysis", {"product_id": pid}),
        ("recommend", {"user_id": cid}),
        ("entities", {"kind": "review", "types": ["hashtag", "product", "category"]}),
    ]
    for name, args in calls:
        en, cn = REGISTRY[name].run(toolbox.ctx, args).summary, REGISTRY[name].run(zh, args).summary
        # the summary's own words (its head, before the first colon); catalog names stay in the shop's language
        own = re.sub(r"（[^（）]*）", " ", cn.split("：")[0])
        assert language_of(en) == "en" and language_of(own) == "zh", (name, cn)
        # the same facts: every figure of the English summary is in the Chinese one, and nothing is added
        assert sorted(_FIGURE.findall(en)) == sorted(_FIGURE.findall(cn)), (name, en, cn)
