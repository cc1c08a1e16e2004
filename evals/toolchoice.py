"""Tool-choice accuracy: does the agent pick the expected tool for each question?

    >>> acc, rows = tool_choice_accuracy(agent, load_questions("dev"))   # doctest: +SKIP

The question sets are data (``toolchoice_dev.jsonl``, ``toolchoice_test.jsonl``):
tune prompts and the router on dev only; report test. Each question is asked
with no history, so this measures the routing step alone.
"""

from __future__ import annotations

import json
import time
from importlib import resources

__all__ = ["load_questions", "tool_choice_accuracy"]


def load_questions(split: str = "dev") -> list[dict]:
    text = resources.files("evals").joinpath(f"toolchoice_{split}.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def tool_choice_accuracy(agent, questions: list[dict]) -> tuple[float, list[dict]]:
    rows = []
    for q in questions:
        t0 = time.perf_counter()
        plan, _ = agent.choose(q["q"])
        rows.append(
            {
                "q": q["q"],
                "expected": q["tool"],
                "chosen": plan.get("tool"),
                "args": plan.get("args"),
                "ok": plan.get("tool") == q["tool"],
                "seconds": time.perf_counter() - t0,
            }
        )
    return sum(r["ok"] for r in rows) / max(len(rows), 1), rows


def main(argv: list[str]) -> int:
    """``python -m evals.toolchoice [dev] [test]``: accuracy and misses of the configured model."""
    from agent import Agent

    agent = Agent.from_workspace()
    try:
        for split in argv or ["dev"]:
            acc, rows = tool_choice_accuracy(agent, load_questions(split))
            print(f"{split}: {acc:.3f} of {len(rows)} questions, {sum(r['seconds'] for r in rows) / len(rows):.1f} s each")
            for r in rows:
                if not r["ok"]:
                    print(f"  miss: {r['q']!r} -> {r['chosen']} {r['args']} (expected {r['expected']})")
    finally:
        agent.close()
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
