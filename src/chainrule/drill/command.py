"""``chainrule drill``: list the topics, print an exercise as JSON or its worked solution,
grade a file of answers, or drill interactively in the terminal.

Exit status: 0 when the command did what was asked (for ``--check``: every answer
right); 1 when ``--check`` found an answer wrong, missing or unreadable; 2 for a usage
error (an unknown topic, an unreadable answers file), reported by ``chainrule.cli``.
"""

from __future__ import annotations

import json
import secrets

from chainrule.drill.interactive import interact
from chainrule.drill.registry import TOPICS, exercise, random_topic, topics

__all__ = ["list_topics", "read_answers", "run"]


def list_topics(as_json: bool = False) -> str:
    """The topics, with their titles, sections and quantities (from seed 0's exercise)."""
    rows = []
    for key in topics():
        t = TOPICS[key]
        names = [q.name for q in exercise(key, 0).quantities]
        rows.append({"topic": key, "title": t.title, "section": t.section, "quantities": names})
    if as_json:
        return json.dumps(rows, indent=1)
    width = max(len(r["topic"]) for r in rows)
    lines = [f"{len(rows)} topics; practise one with: chainrule drill TOPIC [--seed S]", ""]
    for r in rows:
        lines.append(f"{r['topic']:<{width}}  {r['title']}")
        lines.append(f"{'':<{width}}  asks: {', '.join(r['quantities'])}")
    return "\n".join(lines)


def read_answers(path: str) -> dict:
    """The answers file: a JSON object from quantity name to numbers."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise OSError(f"cannot read the answers file {path}: {err.strerror}") from None
    try:
        answers = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"the answers file {path} is not JSON: {err}") from None
    if not isinstance(answers, dict):
        raise ValueError(
            f"the answers file {path} must hold a JSON object from quantity name to numbers, "
            f'like {{"a": [0.1, 0.2, 0.7], "C": 0.36}}; it holds a {type(answers).__name__}'
        )
    return answers


def run(args) -> int:
    """Run ``chainrule drill`` with the parsed arguments of ``chainrule.cli``."""
    if args.topic == "list":
        print(list_topics(args.json))
        return 0
    if args.check is not None:
        if args.topic is None or args.seed is None:
            raise ValueError(
                "--check grades the answers of one exercise: give its topic and seed, "
                "chainrule drill TOPIC --seed S --check ANSWERS.json"
            )
        ex = exercise(args.topic, args.seed)
        result = ex.check(read_answers(args.check), rtol=args.rtol)
        print(result, end="")
        return 0 if result.passed else 1
    chosen = args.topic is None
    if chosen:
        topic, seed = random_topic(args.seed)
    else:
        topic = args.topic
        seed = secrets.randbelow(10_000) if args.seed is None else args.seed
    ex = exercise(topic, seed)
    if args.json:
        print(json.dumps(ex.to_dict()))
        return 0
    if args.solution:
        print(ex.solution(), end="")
        return 0
    return interact(ex, rtol=args.rtol, chosen=chosen)
