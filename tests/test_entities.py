"""Entities: social markers, catalog mentions, spaCy NER, trending.

Bad input we tried: an e-mail address and an HTML entity (not mentions or hashtags).
"""

import pandas as pd

from tools.entities import catalog_matcher, extract_markers, named_entities, trending


def test_markers():
    got = extract_markers("Thanks @jack! #MAGA https://t.co/x1 $TSLA mail me at a@b.com &#39; #2")
    assert got == [("mention", "@jack"), ("hashtag", "#maga"), ("url", "https://t.co/x1"), ("cashtag", "$TSLA")]
    # Weibo's form closes a tag with a second #; a lone # before Chinese is not a tag
    assert extract_markers("#双十一# 买到了,#好物推荐# 真香 #不是标签") == [("hashtag", "#双十一#"), ("hashtag", "#好物推荐#")]


def test_named_entities_from_the_packaged_spacy_model():
    ents = named_entities(["Barack Obama met Angela Merkel in Berlin to talk about China."])[0]
    labels = {(lab, txt) for lab, txt in ents}
    assert ("PERSON", "Barack Obama") in labels and ("GPE", "Berlin") in labels and ("GPE", "China") in labels


def test_catalog_mentions_use_the_workspace_products(toolbox):
    match = catalog_matcher(toolbox.ctx.ws)
    title = toolbox.ctx.ws.query(
        "SELECT name FROM products WHERE department = 'Movies' AND name LIKE '% % (%' ORDER BY name LIMIT 1"
    )[0]["name"]
    bare = title.rsplit(" (", 1)[0]
    found = match(f"Watched {bare} again, and bought two new dresses")
    assert ("product", title) in found and ("category", "Dresses") in found
    # a one-word title ("North (1994)") is an ordinary word far more often: not matched
    titles = [r["name"].rsplit(" (", 1)[0] for r in toolbox.ctx.ws.query("SELECT name FROM products WHERE department = 'Movies'")]
    one_word = [t for t in titles if t.isalpha()]
    assert one_word and not [m for t in one_word for m in match(t) if m[0] == "product"]


def test_trending_compares_the_latest_period_with_the_one_before():
    t = pd.Timestamp("2020-01-01")
    rows = [(i, "hashtag", "#old", t + pd.Timedelta(days=80 + i % 5)) for i in range(6)]
    rows += [(100 + i, "hashtag", "#new", t + pd.Timedelta(days=95 + i % 4)) for i in range(8)]
    rows += [(200, "hashtag", "#x", t)]
    top = trending(pd.DataFrame(rows, columns=["doc_id", "type", "entity", "created_at"]), min_count=3)
    assert top[0]["entity"] == "#new" and top[0]["count"] == 8 and top[0]["previous"] == 0


def test_tool_counts_match_a_regex_count_in_sql(toolbox):
    r = toolbox.call("entities", {"kind": "post"})
    tags = {x["entity"]: x["count"] for x in r.data["top"] if x["type"] == "hashtag"}
    assert tags, r.summary
    tag, n = max(tags.items(), key=lambda kv: kv[1])
    truth = toolbox.ctx.ws.query(
        "SELECT count(*) AS n FROM documents WHERE kind = 'post' AND regexp_matches(lower(text), ?)", [tag + r"\b"]
    )[0]["n"]
    assert n == truth
    assert r.chart["type"] == "bar" and any(x["type"] in ("person", "org", "gpe") for x in r.data["top"])


def test_chinese_names_come_from_jieba_tags_and_title_marks():
    zh, en = named_entities(["在成都出差，住在希尔顿酒店，读了《围城》", "Barack Obama visited Berlin."])
    assert {("GPE", "成都"), ("WORK_OF_ART", "《围城》")} <= set(zh)
    assert ("PERSON", "Barack Obama") in en  # English texts beside them still go to spaCy
    # jieba's dictionary tags 安静 ("quiet") and 陈旧 ("worn") as names: frequent dictionary words are not people
    assert not [e for e in named_entities(["房间很安静，但是设施陈旧，毛巾也旧了"])[0] if e[0] == "PERSON"]


def test_chinese_catalog_names_match_on_jieba_words(tmp_path):
    from workspace import Workspace, ingest

    f = tmp_path / "products.csv"
    pd.DataFrame({"product_id": ["p1", "p2"], "name": ["小米手机", "Toy Story (1995)"], "category": ["手机", "Movies"]}).to_csv(
        f, index=False
    )
    with Workspace.open(tmp_path / "ws") as ws:
        ingest(ws, "products", f, progress=False)
        match = catalog_matcher(ws)
        assert set(match("昨天买的小米手机很好用，手机壳也不错")) == {("product", "小米手机"), ("category", "手机")}
        assert ("product", "Toy Story (1995)") in match("we watched toy story again")
        assert not match("小米粥很好喝")  # 小米 ("millet") alone is not the product
