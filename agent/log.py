"""The conversation log: every channel's conversations, answers, feedback and support cases, in SQLite.

One file per workspace (``<workspace>/pulse_log.sqlite``), beside the DuckDB
database, because the agent opens that one read-only. The schema grows by
explicit, numbered migrations (like simonw/llm's ``migrations.py``): each runs
once, in order, and ``_migrations`` records it.

    >>> log = Log(":memory:")
    >>> cid = log.new_conversation("web", title="dress sizing")
    >>> mid = log.add_message(cid, "assistant", "They run small [1].", question="do the dresses run small?")
    >>> log.add_feedback(mid, +1)
    >>> log.feedback()[0]["rating"]
    1

What it leaves out: retention and deletion policies (a person's call, per shop).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path

__all__ = ["Log", "MIGRATIONS"]


_M1 = """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY, channel TEXT NOT NULL, title TEXT, customer_id TEXT,
        created_at REAL NOT NULL, updated_at REAL NOT NULL);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL REFERENCES conversations(id),
        role TEXT NOT NULL, content TEXT NOT NULL, question TEXT,
        tool_calls TEXT, sources TEXT, charts TEXT, timings TEXT, created_at REAL NOT NULL);
    CREATE INDEX messages_conv ON messages(conversation_id, id);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT, message_id INTEGER NOT NULL REFERENCES messages(id),
        rating INTEGER NOT NULL, comment TEXT, created_at REAL NOT NULL);
"""

_M2 = """
    CREATE TABLE support_sessions (
        token_hash TEXT PRIMARY KEY, conversation_id TEXT NOT NULL REFERENCES conversations(id),
        customer_id TEXT NOT NULL, pending_action TEXT, created_at REAL NOT NULL, expires_at REAL NOT NULL);
    CREATE TABLE handoffs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL, customer_id TEXT,
        reason TEXT NOT NULL, message TEXT, status TEXT NOT NULL DEFAULT 'open', created_at REAL NOT NULL);
    CREATE TABLE actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL, customer_id TEXT NOT NULL,
        action TEXT NOT NULL, order_id TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'requested', created_at REAL NOT NULL);
    CREATE TABLE auth_failures (customer_id TEXT NOT NULL, at REAL NOT NULL);
"""

#: Numbered schema changes (SQL scripts); append, never edit one that has shipped.
MIGRATIONS = [_M1, _M2]


def _j(v) -> str | None:
    return None if v is None else json.dumps(v, default=str)


class Log:
    def __init__(self, path: str | Path):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.Lock()
        self.migrate()

    def migrate(self) -> int:
        """Apply pending migrations; return the schema version."""
        with self._lock:
            self.db.execute("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, applied_at REAL)")
            done = {r[0] for r in self.db.execute("SELECT version FROM _migrations")}
            for n, m in enumerate(MIGRATIONS, start=1):
                if n not in done:  # one script, one transaction: a migration applies whole or not at all
                    self.db.executescript(f"BEGIN; {m}; INSERT INTO _migrations VALUES ({n}, {time.time()}); COMMIT;")
            return len(MIGRATIONS)

    def _x(self, sql: str, params=()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, params)

    def _rows(self, sql: str, params=()) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self.db.execute(sql, params).fetchall()]

    # -- conversations ---------------------------------------------------------------

    def new_conversation(
        self, channel: str, title: str | None = None, customer_id: str | None = None, conversation_id: str | None = None
    ) -> str:
        cid = conversation_id or uuid.uuid4().hex[:16]
        now = time.time()
        self._x("INSERT OR IGNORE INTO conversations VALUES (?, ?, ?, ?, ?, ?)", [cid, channel, title, customer_id, now, now])
        return cid

    def conversation(self, cid: str) -> dict | None:
        rows = self._rows("SELECT * FROM conversations WHERE id = ?", [cid])
        return rows[0] if rows else None

    def conversations(self, channel: str | None = None, limit: int = 50) -> list[dict]:
        where, params = ("WHERE channel = ?", [channel]) if channel else ("", [])
        return self._rows(f"SELECT * FROM conversations {where} ORDER BY updated_at DESC LIMIT ?", [*params, limit])

    def add_message(
        self,
        cid: str,
        role: str,
        content: str,
        question: str | None = None,
        tool_calls=None,
        sources=None,
        charts=None,
        timings=None,
    ) -> int:
        now = time.time()
        cur = self._x(
            "INSERT INTO messages (conversation_id, role, content, question, tool_calls, sources, charts, timings, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [cid, role, content, question, _j(tool_calls), _j(sources), _j(charts), _j(timings), now],
        )
        self._x(
            "UPDATE conversations SET updated_at = ?, title = coalesce(title, ?) WHERE id = ?",
            [now, (question or content)[:80] if role == "user" else None, cid],
        )
        return int(cur.lastrowid or 0)

    def update_message(self, message_id: int, content: str) -> None:
        """Replace a message's text (the support desk appends a confirmation prompt after the model's answer)."""
        self._x("UPDATE messages SET content = ? WHERE id = ?", [content, message_id])

    def message_conversation(self, message_id: int) -> str | None:
        """The conversation an assistant message belongs to, or None."""
        rows = self._rows("SELECT conversation_id FROM messages WHERE id = ? AND role = 'assistant'", [message_id])
        return rows[0]["conversation_id"] if rows else None

    def messages(self, cid: str) -> list[dict]:
        out = self._rows("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", [cid])
        for m in out:
            for k in ("tool_calls", "sources", "charts", "timings"):
                m[k] = json.loads(m[k]) if m[k] else None
        return out

    # -- feedback --------------------------------------------------------------------

    def add_feedback(self, message_id: int, rating: int, comment: str | None = None) -> None:
        if rating not in (-1, 1):
            raise ValueError("rating is +1 (thumbs up) or -1 (thumbs down)")
        if not self._rows("SELECT id FROM messages WHERE id = ? AND role = 'assistant'", [message_id]):
            raise KeyError(f"no answer with id {message_id}")
        self._x(
            "INSERT INTO feedback (message_id, rating, comment, created_at) VALUES (?, ?, ?, ?)",
            [message_id, rating, comment, time.time()],
        )

    def feedback(self) -> list[dict]:
        """Each rating with the question, tool trace and answer it was given on."""
        rows = self._rows(
            "SELECT f.id, f.rating, f.comment, f.created_at, m.id AS message_id, m.conversation_id, "
            "m.question, m.content AS answer, m.tool_calls FROM feedback f JOIN messages m ON m.id = f.message_id "
            "ORDER BY f.id"
        )
        for r in rows:
            r["tool_calls"] = json.loads(r["tool_calls"]) if r["tool_calls"] else None
        return rows

    # -- support cases ----------------------------------------------------------------

    def add_support_session(self, token_hash: str, cid: str, customer_id: str, ttl_s: float) -> None:
        now = time.time()
        self._x("INSERT INTO support_sessions VALUES (?, ?, ?, NULL, ?, ?)", [token_hash, cid, customer_id, now, now + ttl_s])

    def support_session(self, token_hash: str) -> dict | None:
        rows = self._rows("SELECT * FROM support_sessions WHERE token_hash = ? AND expires_at > ?", [token_hash, time.time()])
        if not rows:
            return None
        r = rows[0]
        r["pending_action"] = json.loads(r["pending_action"]) if r["pending_action"] else None
        return r

    def end_support_session(self, token_hash: str) -> bool:
        """Sign out: the session's token stops working at once. True if there was one."""
        n = self._rows("SELECT count(*) AS n FROM support_sessions WHERE token_hash = ?", [token_hash])[0]["n"]
        self._x("DELETE FROM support_sessions WHERE token_hash = ?", [token_hash])
        return bool(n)

    def forget_customer(self, customer_id: str) -> tuple[dict[str, int], list[str]]:
        """Delete one customer's conversations (with their messages, feedback, sessions, handoffs, actions and
        sign-in failures) and every other message that names their id, in one transaction.
        Returns the counts and the ids of the conversations removed (their checkpoints go too)."""
        word = re.compile(rf"(?<![\w-]){re.escape(customer_id)}(?![\w-])")
        with self._lock:
            convs = [r[0] for r in self.db.execute("SELECT id FROM conversations WHERE customer_id = ?", [customer_id])]
            msgs = [
                r[0]
                for r in self.db.execute("SELECT id, conversation_id, content || ' ' || coalesce(question, '') FROM messages")
                if r[1] in convs or word.search(r[2])
            ]
            counts = {"conversations": len(convs), "messages": len(msgs)}
            self.db.execute("BEGIN")
            try:
                self.db.executemany("DELETE FROM feedback WHERE message_id = ?", [(i,) for i in msgs])
                self.db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in msgs])
                for table in ("support_sessions", "handoffs", "actions", "auth_failures"):
                    counts[table] = self.db.execute(f"DELETE FROM {table} WHERE customer_id = ?", [customer_id]).rowcount
                self.db.executemany("DELETE FROM conversations WHERE id = ?", [(c,) for c in convs])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return counts, convs

    def revoke_support_sessions(self, customer_id: str) -> int:
        """End every session of one customer (a staff action, e.g. after a suspected takeover)."""
        n = self._rows("SELECT count(*) AS n FROM support_sessions WHERE customer_id = ?", [customer_id])[0]["n"]
        self._x("DELETE FROM support_sessions WHERE customer_id = ?", [customer_id])
        return n

    def set_pending(self, token_hash: str, action: dict | None) -> None:
        self._x("UPDATE support_sessions SET pending_action = ? WHERE token_hash = ?", [_j(action), token_hash])

    def add_action(self, cid: str, customer_id: str, action: str, order_id: str) -> int:
        return (
            self._x(
                "INSERT INTO actions (conversation_id, customer_id, action, order_id, created_at) VALUES (?, ?, ?, ?, ?)",
                [cid, customer_id, action, order_id, time.time()],
            ).lastrowid
            or 0
        )

    def actions(self, customer_id: str | None = None) -> list[dict]:
        where, p = ("WHERE customer_id = ?", [customer_id]) if customer_id else ("", [])
        return self._rows(f"SELECT * FROM actions {where} ORDER BY id", p)

    def add_handoff(self, cid: str, customer_id: str | None, reason: str, message: str) -> dict:
        hid = (
            self._x(
                "INSERT INTO handoffs (conversation_id, customer_id, reason, message, created_at) VALUES (?, ?, ?, ?, ?)",
                [cid, customer_id, reason, message, time.time()],
            ).lastrowid
            or 0
        )
        return self._rows("SELECT * FROM handoffs WHERE id = ?", [hid])[0]

    def handoffs(self, status: str | None = "open") -> list[dict]:
        where, p = ("WHERE status = ?", [status]) if status else ("", [])
        return self._rows(f"SELECT * FROM handoffs {where} ORDER BY id", p)

    def open_handoff(self, cid: str) -> dict | None:
        rows = self._rows("SELECT * FROM handoffs WHERE conversation_id = ? AND status = 'open'", [cid])
        return rows[0] if rows else None

    def auth_failures(self, customer_id: str, window_s: float) -> int:
        return self._rows(
            "SELECT count(*) AS n FROM auth_failures WHERE customer_id = ? AND at > ?", [customer_id, time.time() - window_s]
        )[0]["n"]

    def add_auth_failure(self, customer_id: str) -> None:
        self._x("INSERT INTO auth_failures VALUES (?, ?)", [customer_id, time.time()])

    def clear_auth_failures(self, customer_id: str) -> None:
        """A successful sign-in wipes the count, so earlier typos do not lock the owner out later."""
        self._x("DELETE FROM auth_failures WHERE customer_id = ?", [customer_id])

    def close(self) -> None:
        self.db.close()
