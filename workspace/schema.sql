-- Pulse workspace schema (DuckDB). One file, no server.
-- Every kind a user can ingest has a table; `documents` is the searchable
-- corpus derived from posts, reviews and products; `embeddings` holds one
-- vector per document (in the workspace's one space, meta embedder_space), computed once and reused by every model.

CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE TABLE IF NOT EXISTS posts (
    post_id     VARCHAR PRIMARY KEY,   -- the source's id
    author      VARCHAR,
    text        VARCHAR NOT NULL,
    created_at  TIMESTAMP,
    source      VARCHAR,               -- client or platform
    likes       BIGINT,
    shares      BIGINT,
    is_repost   BOOLEAN
);

CREATE TABLE IF NOT EXISTS products (
    product_id  VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    category    VARCHAR,
    department  VARCHAR,
    division    VARCHAR,
    description VARCHAR,
    price       DOUBLE
);

CREATE TABLE IF NOT EXISTS customers (
    customer_id VARCHAR PRIMARY KEY,
    name        VARCHAR,
    email       VARCHAR,
    zip         VARCHAR,
    created_at  TIMESTAMP
);

CREATE TABLE IF NOT EXISTS orders (
    order_id    VARCHAR PRIMARY KEY,
    customer_id VARCHAR NOT NULL,
    order_date  DATE NOT NULL,
    total       DOUBLE NOT NULL,       -- money spent on the order
    n_items     INTEGER,               -- units in the order
    status      VARCHAR
);

CREATE TABLE IF NOT EXISTS order_items (
    order_id    VARCHAR NOT NULL,
    product_id  VARCHAR NOT NULL,
    quantity    INTEGER NOT NULL,
    price       DOUBLE,
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE IF NOT EXISTS reviews (
    review_id   VARCHAR PRIMARY KEY,
    product_id  VARCHAR,
    customer_id VARCHAR,
    rating      INTEGER,               -- 1..5
    title       VARCHAR,
    text        VARCHAR NOT NULL,
    created_at  TIMESTAMP,
    recommended BOOLEAN,
    helpful     INTEGER,               -- positive feedback count
    age         INTEGER                -- reviewer's age, where the source has it
);

CREATE TABLE IF NOT EXISTS ratings (
    user_id     VARCHAR NOT NULL,
    item_id     VARCHAR NOT NULL,
    rating      DOUBLE NOT NULL,
    rated_at    TIMESTAMP,
    PRIMARY KEY (user_id, item_id)
);

-- The shop's help articles (shipping, returns, sizing, ...): what the support bot quotes as policy.
CREATE TABLE IF NOT EXISTS help_articles (
    article_id  VARCHAR PRIMARY KEY,
    title       VARCHAR NOT NULL,
    text        VARCHAR NOT NULL,
    updated_at  TIMESTAMP
);

CREATE SEQUENCE IF NOT EXISTS doc_seq START 1;

CREATE TABLE IF NOT EXISTS documents (
    doc_id      BIGINT PRIMARY KEY DEFAULT nextval('doc_seq'),  -- the FAISS id
    kind        VARCHAR NOT NULL,      -- post | review | product
    ref_id      VARCHAR NOT NULL,      -- the row's id in its own table
    product_id  VARCHAR,
    customer_id VARCHAR,
    created_at  TIMESTAMP,
    text        VARCHAR NOT NULL,
    UNIQUE (kind, ref_id)
);

CREATE TABLE IF NOT EXISTS embeddings (
    doc_id      BIGINT PRIMARY KEY,
    model       VARCHAR NOT NULL,
    vector      FLOAT[] NOT NULL       -- 384 (MiniLM) or 512 (USE multilingual): one space per workspace
);

-- Written by `pulse train` (tools/sentiment.py): one score per document.
CREATE TABLE IF NOT EXISTS doc_sentiment (
    doc_id      BIGINT PRIMARY KEY,
    label       VARCHAR NOT NULL,      -- negative | neutral | positive
    score       DOUBLE NOT NULL,       -- p_pos - p_neg, in -1..+1
    p_neg       DOUBLE,
    p_neu       DOUBLE,
    p_pos       DOUBLE
);

-- Written by `pulse train --steps teacher` (tools/teacher.py): the generator's sentiment label of a post's
-- text, keyed by the text's sha256 (no text or id is copied here) and the teacher (model/prompt hash).
CREATE TABLE IF NOT EXISTS teacher_labels (
    text_sha    VARCHAR NOT NULL,
    teacher     VARCHAR NOT NULL,
    label       VARCHAR,               -- negative | neutral | positive; NULL: the answer was none of them
    labelled_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (text_sha, teacher)
);
