"""The customer-service desk: sign-in, per-customer sessions, and the policy enforced in code.

    >>> desk = SupportDesk(service)                                               # doctest: +SKIP
    >>> s = desk.start("42", {"order_date": "1997-01-12", "order_total": "12.99"})                        # doctest: +SKIP
    >>> [e["type"] for e in desk.stream(s["token"], "where is my order?")]        # doctest: +SKIP
    ['step', 'step', 'token', ..., 'done']

Policy, each rule a few lines below rather than a sentence in a prompt:

* **Sign-in.** A session starts with the customer id plus a second fact the
  shop can verify: the email or the zip on file; where the customer has
  neither (the demo's CDNOW customers), the date and the total of one of
  their orders. Five failures in 15 minutes lock that id (a successful
  sign-in clears the count); 20 lock the client address and 200 lock
  sign-in for everyone, so one guess sprayed over many ids is stopped too. The session's token is returned
  once and only its SHA-256 is stored.
* **Own data only.** The support persona's tools (``tools/support.py``) take
  no customer id: they read the session's. Before the model runs, a message
  that names an order or customer id that is not the customer's own is
  refused here, with one neutral answer whether that id belongs to someone
  else or to no one (so the refusal reveals nothing).
* **No SQL.** ``sql_query`` is not among the support tools at all.
* **Writes need a confirmation turn.** ``order_action`` only *proposes*; the
  desk stores the proposal, and files it only if the next message says yes.
* **Handoff.** On request, when the model picks the ``handoff`` tool (out of
  scope), or on strongly negative messages (sentiment model and VADER agree),
  the conversation enters the queue (``GET /support/handoffs``) and, if
  ``handoff_webhook`` is set, is POSTed there. The bot then stops answering.

What it leaves out: staff tooling to answer a handed-off chat (the queue is
the integration point).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from typing import Iterator, cast

from pulse.errors import UserError
from workspace import privacy

from .agents import MAX_QUESTION_CHARS, AgentInputError
from .results import StreamEvent, TurnResult
from .service import PulseService

__all__ = ["SupportDesk", "AuthError", "SessionError"]

_LOCK_AFTER, _LOCK_WINDOW_S = 5, 15 * 60
_HUMAN = re.compile(
    r"\b(human|real person|a person|someone real|agent|representative|operator|talk to (?:someone|staff)|"
    r"speak to (?:someone|staff|a manager)|manager)\b",
    re.I,
)
_YES = re.compile(r"^\s*(yes|y|yeah|yep|confirm|confirmed|i confirm|ok|okay|sure|please do|go ahead)\b", re.I)
_NO = re.compile(r"^\s*(no|n|nope|cancel that|don'?t|do not|stop)\b", re.I)
_IDISH = re.compile(r"(?<![\w-])#?([A-Za-z0-9][\w-]*\d[\w-]*)(?![\w-])")
_CUSTOMER_REF = re.compile(r"\b(?:customer|client|user|account)\s*(?:id|number|no\.?|#)?\s*#?\s*([A-Za-z0-9-]*\d)\b", re.I)


_NOT_YOURS = (
    "I can only help with your own account, and I can't find that reference among your orders. "
    "Please check the order id on your confirmation email."
)


class AuthError(PermissionError):
    """Sign-in failed (``status`` 401) or is locked for now (429)."""

    def __init__(self, msg: str, status: int = 401):
        super().__init__(msg)
        self.status = status


class SessionError(PermissionError):
    """No such session, or it expired."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SupportDesk:
    def __init__(
        self, service: PulseService, ttl_s: float = 4 * 3600, webhook: str | None = None, negative_threshold: float = 0.85
    ):
        self.svc = service
        self.ttl_s = ttl_s
        self.webhook = webhook
        self.negative_threshold = negative_threshold
        self.ws = service.support.ws
        self._auth_lock = threading.Lock()

    # -- sign-in -----------------------------------------------------------------------------

    def start(self, customer_id: str, facts: dict, client: str | None = None) -> dict:
        """Verify ``customer_id`` with a second fact; return ``{token, conversation_id, customer_id}``.

        Failures count against the id, the client address and everyone together; the check and the count are
        one step (under a lock), so a burst of simultaneous guesses cannot slip past the limit.
        """
        cid = str(customer_id or "").strip().lstrip("#")
        if not cid:
            raise AuthError(
                "give your customer id and one more fact: your email, your zip, or the date and total of one of your orders"
            )
        # one guess sprayed over many ids is stopped by the client and global limits, not by the per-id lock
        st = self.svc.settings
        keys = (
            [(cid, _LOCK_AFTER)]
            + ([(f"client:{client}", st.support_fail_limit_client)] if client else [])
            + [("*", st.support_fail_limit_all)]
        )
        with self._auth_lock:
            if any(self.svc.log.auth_failures(k, _LOCK_WINDOW_S) >= n for k, n in keys):
                raise AuthError("too many failed sign-ins; try again in 15 minutes", status=429)
            if not self._verified(cid, {k: str(v).strip() for k, v in (facts or {}).items() if v}):
                for k, _ in keys:
                    self.svc.log.add_auth_failure(k)
                raise AuthError("we could not verify that customer id with the detail given")  # never says which part was wrong
            self.svc.log.clear_auth_failures(cid)
        token = secrets.token_urlsafe(24)
        conv = self.svc.log.new_conversation("support", title=f"support: customer {cid}", customer_id=cid)
        self.svc.log.add_support_session(_hash(token), conv, cid, self.ttl_s)
        return {"token": token, "conversation_id": conv, "customer_id": cid}

    def _verified(self, cid: str, facts: dict) -> bool:
        rows = self.ws.query("SELECT email, zip FROM customers WHERE customer_id = ?", [cid])
        email, zip_ = (rows[0]["email"], rows[0]["zip"]) if rows else (None, None)
        if email and facts.get("email"):  # stored as given or as a keyed hash; compared as bytes in constant time
            return privacy.same_value(email, facts["email"], self.ws.path)
        if zip_ and facts.get("zip"):
            return secrets.compare_digest(zip_.strip().encode(), facts["zip"].encode())
        if not email and not zip_ and facts.get("order_date") and facts.get("order_total"):
            # two facts of one order: its date alone is too easy to learn or guess
            try:
                total = float(facts["order_total"].replace(",", "").lstrip("$"))
            except ValueError:
                return False
            n = self.ws.query(
                "SELECT count(*) AS n FROM orders WHERE customer_id = ? AND CAST(order_date AS VARCHAR) = ? "
                "AND abs(total - ?) < 0.005",
                [cid, facts["order_date"][:10], total],
            )[0]["n"]
            return n > 0
        return False

    def end(self, token: str) -> None:
        """Sign out (``DELETE /support/sessions``)."""
        if not self.svc.log.end_support_session(_hash(token or "")):
            raise SessionError("no such support session, or it expired; sign in again")

    def revoke(self, customer_id: str) -> int:
        """Staff: end every session of one customer."""
        return self.svc.log.revoke_support_sessions(str(customer_id))

    def session(self, token: str) -> dict:
        s = self.svc.log.support_session(_hash(token or ""))
        if not s:
            raise SessionError("no such support session, or it expired; sign in again")
        return s

    # -- a message -------------------------------------------------------------------------------

    def stream(self, token: str, text: str) -> Iterator[StreamEvent]:
        """Answer one message as events (``step``, ``token``, ``done``, ``error``), applying the policy first."""
        s = self.session(token)
        me, conv = s["customer_id"], s["conversation_id"]
        text = (text or "").strip()
        if not text:
            yield {"type": "error", "error": "the message is empty", "status": 400}
            return
        if len(text) > MAX_QUESTION_CHARS:
            yield {
                "type": "error",
                "status": 400,
                "error": f"the message is {len(text):,} characters long; the limit is "
                f"{MAX_QUESTION_CHARS:,}. Shorten it or ask about one thing at a time.",
            }
            return
        canned = self._policy(s, text)
        if canned is not None:
            self.svc.log.add_message(conv, "user", text, question=text)
            canned["message_id"] = self.svc.log.add_message(conv, "assistant", canned["answer"], question=text)
            canned.update(conversation_id=conv, tool_calls=[], sources=[], charts=[], timings={})
            yield {"type": "token", "text": canned["answer"]}
            yield {"type": "done", "result": cast(TurnResult, canned)}
            return
        for ev in self.svc.stream(text, conv, channel="support", customer_id=me):
            if ev["type"] == "done":
                ev["result"].update(cast(TurnResult, self._after(s, text, ev["result"])))
            yield ev

    def ask(self, token: str, text: str) -> TurnResult:
        """:meth:`stream` collected: the final result, or raises ``AgentInputError`` for bad input."""
        for ev in self.stream(token, text):
            if ev["type"] == "error":
                raise AgentInputError(ev["error"])
            if ev["type"] == "done":
                return ev["result"]
        raise RuntimeError("the turn ended without a result")

    def _policy(self, s: dict, text: str) -> dict | None:
        """A reply decided by code, or None to let the model answer."""
        me, conv, th = s["customer_id"], s["conversation_id"], s["token_hash"]
        if self.svc.log.open_handoff(conv):
            return {
                "answer": "A person from our team has this conversation and will reply here; I have added your message.",
                "handoff": True,
            }
        pending = s.get("pending_action")
        if pending:
            self.svc.log.set_pending(th, None)
            if _YES.match(text):
                n = self.svc.log.add_action(conv, me, pending["action"], pending["order_id"])
                return {
                    "answer": f"Done: your {pending['action']} request for order {pending['order_id']} is filed "
                    f"(request #{n}). You will get an email when it is processed.",
                    "action": {**pending, "id": n},
                }
            if _NO.match(text):
                return {"answer": f"All right, I have not filed anything for order {pending['order_id']}.", "action": None}
        if self._foreign_reference(me, text):
            # one neutral answer whatever the id is (another customer's, or none at all): it confirms nothing
            return {"answer": _NOT_YOURS, "refused": True}
        if _HUMAN.search(text):
            return self._handoff(s, "requested", text)
        if self._strongly_negative(text):
            return self._handoff(s, "negative_sentiment", text)
        return None

    def _foreign_reference(self, me: str, text: str) -> bool:
        """Does the message name an order or customer id that is not this customer's own?

        Decided without revealing anything: an id that belongs to someone else and an id that does not exist
        get the same answer (no oracle), so only the customer's own ids, catalog products and years pass.
        """
        for m in _CUSTOMER_REF.finditer(text):
            if m.group(1).lstrip("#") != me:
                return True
        ids = {m.group(1) for m in _IDISH.finditer(text)} - {me}
        ids = {i for i in ids if len(i) >= 3 and not re.fullmatch(r"(?:19|20)\d\d", i)}
        if not ids:
            return False
        marks = ", ".join("?" * len(ids))
        known = {
            r["i"]
            for r in self.ws.query(
                f"SELECT order_id AS i FROM orders WHERE customer_id = ? AND order_id IN ({marks}) "
                f"UNION SELECT product_id FROM products WHERE product_id IN ({marks})",
                [me, *sorted(ids), *sorted(ids)],
            )
        }
        return bool(ids - known)

    def _strongly_negative(self, text: str) -> bool:
        from tools.sentiment import vader_compound

        compound = vader_compound(text)
        if compound > -0.5:
            return False
        try:
            from tools.sentiment import SentimentModel

            p = SentimentModel.load(self.ws.path).predict([text], self.svc.support.index.embedder)[0]
            return p["p_negative"] >= self.negative_threshold
        except (FileNotFoundError, OSError, UserError):  # no trained model: VADER alone, stricter
            return compound <= -0.7

    def _queue(self, s: dict, reason: str, text: str) -> dict:
        """Put the conversation in the handoff queue, count it, and push it to the webhook."""
        h = self.svc.log.add_handoff(s["conversation_id"], s["customer_id"], reason, text)
        self.svc.metrics.handoffs.labels(reason=reason).inc()
        self._push(h)
        return h

    def _handoff(self, s: dict, reason: str, text: str) -> dict:
        h = self._queue(s, reason, text)
        say = {
            "requested": "Of course. I am passing this conversation to a person on our team",
            "negative_sentiment": "I am sorry about this. I am passing your conversation to a person on our team",
            "out_of_scope": "That is something a person on our team should handle, so I am passing your conversation to them",
        }
        return {
            "answer": f"{say.get(reason, say['out_of_scope'])}; they will reply here, with the history of this chat.",
            "handoff": True,
            "handoff_id": h["id"],
        }

    def _after(self, s: dict, text: str, result: TurnResult) -> dict:
        """What a model turn leaves behind: a proposed write to confirm, or a handoff the model chose."""
        extra: dict = {}
        for c in result["tool_calls"]:
            data = (c.get("result") or {}).get("data") or {}
            if c["name"] == "order_action" and isinstance(data, dict) and data.get("pending_action"):
                self.svc.log.set_pending(s["token_hash"], data["pending_action"])
                extra["pending_action"] = data["pending_action"]
                if "yes" not in result["answer"].lower():
                    extra["answer"] = (
                        result["answer"] + f"\n\nReply 'yes' to confirm the {data['pending_action']['action']} "
                        f"request for order {data['pending_action']['order_id']}, or 'no' to leave it."
                    )
                    self.svc.log.update_message(result["message_id"], extra["answer"])
            if c["name"] == "handoff" and isinstance(data, dict) and "handoff" in data:
                h = self._queue(s, "out_of_scope", text)
                extra.update(handoff=True, handoff_id=h["id"])
        return extra

    def _push(self, handoff: dict) -> None:
        if not self.webhook:
            return

        def post():
            import httpx

            try:
                httpx.post(self.webhook, json={"event": "handoff", **handoff}, timeout=10)
            except httpx.HTTPError:
                self.svc.metrics.errors.labels(where="handoff_webhook").inc()

        threading.Thread(target=post, daemon=True).start()

    def handoffs(self, status: str | None = "open") -> list[dict]:
        return self.svc.log.handoffs(status)

    def transcript(self, token: str) -> list[dict]:
        s = self.session(token)
        return [
            {"role": m["role"], "content": m["content"], "at": m["created_at"]}
            for m in self.svc.log.messages(s["conversation_id"])
        ]
