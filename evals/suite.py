"""Eval suites as data: the YAML format, its validation, and the checks one turn must pass.

A suite is a YAML file of cases; a case is one or more turns, each with what
the agent's reply must show. Expected numbers can be SQL run against the
workspace when the suite runs, so a suite holds no hand-typed figures.

    >>> suite = Suite.model_validate({"suite": "mini", "cases": [{"id": "hi", "turns": [
    ...     {"user": "hello!", "expect": {"tool": "none"}}]}]})
    >>> reply = {"answer": "Hi! Ask me about your data.", "tool_calls": [], "sources": [], "grounded": True}
    >>> [(c.check, c.ok) for c in check_turn(suite.cases[0].turns[0].expect, reply, sql=None)]
    [('tool', True)]

Expectations (all optional; see the README for the full format):

* ``tool``: the tool called (a name, a list of acceptable names, or ``none``);
  ``args``: rules per argument (``equals``, ``contains``, ``one_of``, ``range``,
  ``matches``, ``absent``).
* ``contains`` / ``contains_any`` / ``not_contains`` / ``regex``: the answer text
  (case-insensitive); an item may be ``{sql: ...}``.
* ``number``: a number in the answer within ``tol`` (absolute) or ``rel`` of
  ``value`` or of the first cell of ``sql``.
* ``cites``: ``true`` for at least one cited source, or ``KIND:REF`` for a given one.
* ``lang``: ``zh`` or ``en``, the language the answer is written in (quotes and citations aside).
* ``grounded``, ``handoff``, ``refused``, ``pending_action``, ``action_filed``: booleans.
* ``latency_s``: the turn's wall-clock budget.
* ``signed_in``: for a ``signin`` turn of the support persona; ``error``: the
  message is refused as bad input with an error mentioning this text.

What it leaves out: running cases (``evals/runner.py``) and reports
(``evals/report.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.grounding import extract_numbers
from pulse.lang import language_of

__all__ = ["Suite", "Setup", "Case", "Turn", "Expect", "Check", "SuiteError", "load_suite", "check_turn", "REFUSAL"]

#: How a refusal reads when the model (not the desk's code) writes it.
REFUSAL = re.compile(
    r"\b(can(?:no|')t|cannot|unable to|not able to|won'?t be able|only (?:help|discuss|talk) (?:with|about) your own|"
    r"not (?:allowed|permitted)|only [\w -]{1,30} (?:is|are) (?:allowed|permitted)|do(?:n'?t| not) have access|"
    r"(?:can|could) not (?:share|help|do|access|provide))\b"
    r"|做不到|不能|无法|无权|不允许|不可以",  # Chinese: no word boundaries between characters
    re.I,
)


class SuiteError(ValueError):
    """A suite file that cannot be run: the message names the file, the case and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sql(_Strict):
    sql: str


class ArgRule(_Strict):
    equals: Any = None
    contains: str | None = None
    one_of: list[Any] | None = None
    range: tuple[float, float] | None = None
    matches: str | None = None
    absent: bool | None = None


class NumberRule(_Strict):
    value: float | None = None
    sql: str | None = None
    tol: float | None = Field(None, ge=0, description="absolute tolerance")
    rel: float = Field(0.01, ge=0, description="relative tolerance, used when tol is not given")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.value is None) == (self.sql is None):
            raise ValueError("number needs exactly one of value or sql")
        return self


Text = str | Sql


class Expect(_Strict):
    tool: str | list[str] | None = None
    args: dict[str, ArgRule] = {}
    contains: list[Text] = []
    contains_any: list[Text] = []
    not_contains: list[Text] = []
    regex: str | None = None
    number: NumberRule | None = None
    cites: bool | str | None = None
    lang: Literal["en", "zh"] | None = Field(None, description="the answer is written in this language")
    grounded: bool | None = None
    handoff: bool | None = None
    refused: bool | None = None
    pending_action: bool | None = None
    action_filed: bool | None = None
    signed_in: bool | None = None
    error: str | None = None
    latency_s: float | None = Field(None, gt=0)


class Turn(_Strict):
    user: str | None = None
    signin: dict[str, str | Sql] | None = None
    expect: Expect = Expect()

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.user is None) == (self.signin is None):
            raise ValueError("a turn has exactly one of user (a message) or signin (support sign-in facts)")
        return self


class Case(_Strict):
    id: str
    split: Literal["dev", "test"] = "dev"
    tags: list[str] = []
    persona: Literal["analyst", "support"] | None = None
    channel: str | None = None
    customer: str | Sql | None = None  # support: sign in as this customer before the first turn
    note: str | None = None
    turns: list[Turn] = Field(min_length=1)
    # components suites: one floor per case
    component: str | None = None
    metric: str | None = None
    data: str | None = None
    min: float | None = None
    max: float | None = None
    beat_baseline: bool = False


class Setup(_Strict):
    """Rows imported into a scratch copy of the workspace before the suite runs (e.g. a planted review)."""

    kind: str
    rows: list[dict] = Field(min_length=1)


class Suite(_Strict):
    suite: str
    description: str = ""
    kind: Literal["conversation", "components"] = "conversation"
    persona: Literal["analyst", "support"] = "analyst"
    latency_s: float | None = Field(None, gt=0, description="default per-turn budget")
    setup: list[Setup] = []
    cases: list[Case] = Field(min_length=1)
    path: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _components_need_no_turns(cls, data):
        if isinstance(data, dict) and data.get("kind") == "components":
            for c in data.get("cases") or []:
                if isinstance(c, dict):
                    c.setdefault("turns", [{"user": f"floor {c.get('component')} {c.get('metric')}"}])
        return data

    @model_validator(mode="after")
    def _unique_ids(self):
        seen = set()
        for c in self.cases:
            if c.id in seen:
                raise ValueError(f"case id {c.id!r} appears twice")
            seen.add(c.id)
            if (
                (c.persona or self.persona) == "support"
                and self.kind == "conversation"
                and c.customer is None
                and c.turns[0].signin is None
            ):
                raise ValueError(f"case {c.id!r}: a support case needs `customer` or a first `signin` turn")
        return self

    def select(self, split: str = "all", tags: list[str] | None = None) -> list[Case]:
        return [c for c in self.cases if split in ("all", c.split) and (not tags or set(tags) & set(c.tags))]


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file; a malformed one raises :class:`SuiteError` naming the case and field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite file") from None
    except yaml.YAMLError as e:
        raise SuiteError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite is a mapping with `suite:` and `cases:`")
    try:
        suite = Suite.model_validate({**data, "path": str(path)})
    except ValidationError as e:
        lines = []
        for err in e.errors()[:8]:
            loc = list(err["loc"])
            if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int) and loc[1] < len(data.get("cases") or []):
                case = data["cases"][loc[1]]
                loc[1] = f"[{case.get('id', loc[1]) if isinstance(case, dict) else loc[1]}]"
            lines.append(f"  {'.'.join(str(x) for x in loc)}: {err['msg']}")
        raise SuiteError(f"{path}: {len(e.errors())} problem(s)\n" + "\n".join(lines)) from None
    return suite


# -- checks -------------------------------------------------------------------------------


@dataclass
class Check:
    check: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


SqlFn = Callable[[str], Any]


def _resolve(item: Text, sql: SqlFn | None) -> str:
    if isinstance(item, Sql):
        if sql is None:
            raise SuiteError("this expectation needs a workspace to run its SQL")
        return str(sql(item.sql))
    return item


def _arg_ok(rule: ArgRule, present: bool, value) -> tuple[bool, str]:
    if rule.absent is not None:
        return (not present) == rule.absent, "absent" if rule.absent else "present"
    if not present:
        return False, "missing"
    s = str(value).strip().lower()
    if rule.equals is not None and s != str(rule.equals).strip().lower():
        return False, f"{value!r} != {rule.equals!r}"
    if rule.contains is not None and rule.contains.lower() not in s:
        return False, f"{value!r} does not contain {rule.contains!r}"
    if rule.one_of is not None and s not in {str(x).strip().lower() for x in rule.one_of}:
        return False, f"{value!r} not one of {rule.one_of}"
    if rule.matches is not None and not re.search(rule.matches, str(value), re.I | re.S):
        return False, f"{value!r} does not match /{rule.matches}/"
    if rule.range is not None:
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False, f"{value!r} is not a number"
        if not rule.range[0] <= v <= rule.range[1]:
            return False, f"{v} outside {list(rule.range)}"
    return True, ""


def _number_ok(rule: NumberRule, answer: str, sql: SqlFn | None) -> tuple[bool, str]:
    if rule.sql is not None:
        if sql is None:
            raise SuiteError("this expectation needs a workspace to run its SQL")
        raw = sql(rule.sql)
        try:
            expected = float(raw)
        except (TypeError, ValueError):
            return False, f"the SQL gave {raw!r}, not a number"
    else:
        assert rule.value is not None  # exactly one of value and sql (checked when the suite was read)
        expected = float(rule.value)
    tol = rule.tol if rule.tol is not None else max(abs(expected) * rule.rel, 1e-9)
    said = []
    for tok in extract_numbers(answer):
        try:
            said.append(float(tok))
        except ValueError:
            pass
    if any(abs(x - expected) <= tol for x in said):
        return True, f"{expected:g}"
    return False, f"expected {expected:g} ± {tol:g}; the answer states {', '.join(f'{x:g}' for x in said[:8]) or 'no number'}"


def tools_called(reply: dict) -> list[str]:
    return [c["name"] for c in reply.get("tool_calls") or []] or ["none"]


def check_turn(
    exp: Expect, reply: dict, sql: SqlFn | None, latency_s: float | None = None, budget_s: float | None = None
) -> list[Check]:
    """Every stated expectation of one turn against the reply (``Agent.ask``'s result, or the desk's)."""
    out: list[Check] = []
    answer = reply.get("answer") or ""
    low = answer.lower()
    called = tools_called(reply)
    if exp.tool is not None:
        want = [exp.tool] if isinstance(exp.tool, str) else exp.tool
        out.append(Check("tool", any(t in want for t in called), f"called {', '.join(called)}; expected {' or '.join(want)}"))
    if exp.args:
        call = next(
            (
                c
                for c in reply.get("tool_calls") or []
                if exp.tool is None or c["name"] in ([exp.tool] if isinstance(exp.tool, str) else exp.tool)
            ),
            None,
        )
        args = (call or {}).get("args") or {}
        bad = []
        for name, rule in exp.args.items():
            ok, why = _arg_ok(rule, name in args and args[name] not in (None, ""), args.get(name))
            if not ok:
                bad.append(f"{name}: {why}")
        out.append(Check("args", call is not None and not bad, "; ".join(bad) if call else "no matching tool call"))
    for item in exp.contains:
        s = _resolve(item, sql)
        out.append(Check("contains", s.lower() in low, f"{s!r}"))
    if exp.contains_any:
        opts = [_resolve(i, sql) for i in exp.contains_any]
        out.append(Check("contains_any", any(o.lower() in low for o in opts), f"one of {opts}"))
    for item in exp.not_contains:
        s = _resolve(item, sql)
        out.append(Check("not_contains", s.lower() not in low, f"{s!r} must not appear"))
    if exp.regex is not None:
        out.append(Check("regex", re.search(exp.regex, answer, re.I | re.S) is not None, f"/{exp.regex}/"))
    if exp.number is not None:
        ok, why = _number_ok(exp.number, answer, sql)
        out.append(Check("number", ok, why))
    if exp.cites is not None:
        cited = {int(n) for n in re.findall(r"\[(\d{1,3})\]", answer)}
        srcs = [s for s in reply.get("sources") or [] if s.get("n") in cited]
        if exp.cites is True:
            out.append(Check("cites", bool(srcs), f"{len(srcs)} cited of {len(reply.get('sources') or [])} sources"))
        elif exp.cites is False:
            out.append(Check("cites", not srcs, "no citation expected"))
        else:
            refs = [f"{s.get('kind')}:{s.get('ref_id')}" for s in srcs]
            out.append(Check("cites", exp.cites in refs, f"cited {refs or 'nothing'}; expected {exp.cites}"))
    if exp.lang is not None:
        # the answer's own words: quoted documents and citations do not count as the language it was written in
        own = re.sub(r"“[^”]*”|\[\d{1,3}\]", " ", answer)
        got = language_of(own)
        out.append(Check("lang", got == exp.lang, f"answer in {got}; expected {exp.lang}"))
    if exp.grounded is not None:
        out.append(
            Check("grounded", bool(reply.get("grounded", True)) == exp.grounded, f"grounded={reply.get('grounded', True)}")
        )
    if exp.handoff is not None:
        out.append(Check("handoff", bool(reply.get("handoff")) == exp.handoff, f"handoff={bool(reply.get('handoff'))}"))
    if exp.refused is not None:
        refused = bool(reply.get("refused")) or bool(REFUSAL.search(answer))
        out.append(Check("refused", refused == exp.refused, f"refused={refused}"))
    if exp.pending_action is not None:
        out.append(
            Check(
                "pending_action",
                bool(reply.get("pending_action")) == exp.pending_action,
                f"pending_action={reply.get('pending_action')}",
            )
        )
    if exp.action_filed is not None:
        out.append(Check("action_filed", bool(reply.get("action")) == exp.action_filed, f"action={reply.get('action')}"))
    if exp.signed_in is not None:
        out.append(Check("signed_in", bool(reply.get("signed_in")) == exp.signed_in, reply.get("error") or "signed in"))
    if exp.error is not None:
        err = reply.get("error") or ""
        out.append(Check("error", exp.error.lower() in err.lower(), f"error {err!r}; expected one mentioning {exp.error!r}"))
    budget = exp.latency_s or budget_s
    if budget is not None and latency_s is not None:
        out.append(Check("latency", latency_s <= budget, f"{latency_s:.1f} s of {budget:g} s"))
    return out
