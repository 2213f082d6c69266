"""The drill's topics: a key, a title, the section of the fundamentals it drills, and the
builder that draws its numbers and computes its key."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from chainrule.drill.core import Draft, Numbers
from chainrule.drill.exercise import Exercise

__all__ = ["SECTIONS", "TOPICS", "Topic", "exercise", "random_topic", "register", "topics"]


@dataclass(frozen=True)
class Topic:
    key: str
    title: str
    section: str
    build: Callable[[Numbers], Draft]


TOPICS: dict[str, Topic] = {}

# the order of docs/fundamentals.md, in which topics() lists the topics
SECTIONS = (
    "Backpropagation",
    "Vanishing and exploding gradients",
    "Activations, softmax and cross-entropy",
    "Parameter updates",
    "Overfitting remedies",
    "Loss functions",
)


def register(key: str, title: str, section: str):
    """Decorator: add a builder ``f(numbers) -> Draft`` as topic ``key``."""

    def add(build: Callable[[Numbers], Draft]) -> Callable[[Numbers], Draft]:
        if section not in SECTIONS:
            raise ValueError(f"drill topic {key!r}: unknown section {section!r}")
        if key in TOPICS:
            raise ValueError(f"drill topic {key!r} is registered twice")
        TOPICS[key] = Topic(key, title, section, build)
        return build

    return add


def topics() -> list[str]:
    """The topic keys, in the order of the sections of docs/fundamentals.md."""
    return sorted(TOPICS, key=lambda k: SECTIONS.index(TOPICS[k].section))


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"drill: the seed must be an integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"drill: the seed must be a non-negative integer, got {seed}")
    return int(seed)


def exercise(topic: str, seed: int = 0) -> Exercise:
    """The exercise of ``topic`` with the numbers of ``seed`` (the same on every machine).

    Parameters
    ----------
    topic : str
        A key of :func:`topics`, e.g. ``"softmax-ce"``.
    seed : int
        A non-negative integer; the numbers come from NumPy's ``default_rng`` seeded with
        it and the topic.

    Returns
    -------
    Exercise
        With ``question``, ``inputs``, ``check(answers)``, ``solution()`` and a notebook
        display.

    Raises
    ------
    ValueError
        For an unknown topic (the message lists the known ones) or a negative seed.
    """
    if topic not in TOPICS:
        raise ValueError(f"unknown drill topic {topic!r}; the topics are: {', '.join(topics())}")
    seed = _check_seed(seed)
    t = TOPICS[topic]
    return Exercise(t.key, seed, t.title, t.section, t.build(Numbers(seed, t.key)))


def random_topic(seed: int | None = None) -> tuple[str, int]:
    """A topic and a seed for ``chainrule drill`` without a topic: the topic is drawn
    from ``seed`` when one is given, and the seed from the operating system otherwise."""
    if seed is None:
        seed = secrets.randbelow(10_000)
    keys = topics()
    # its own stream (the 17 sets it apart from any exercise's), so the topic drawn for a
    # seed does not hint at the numbers that seed gives
    return keys[int(np.random.default_rng([seed, 17]).integers(len(keys)))], seed
