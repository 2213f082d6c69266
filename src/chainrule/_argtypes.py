"""The ``type=`` converters of the ``chainrule`` command's options, shared by ``cli.py``
and the modules that add subcommands (``lab/commands.py``). A bad value raises
``argparse.ArgumentTypeError``, which the parser reports as ``argument --X: ...``."""

from __future__ import annotations

import argparse

__all__ = ["add_worker_options", "betas", "non_negative", "positive_int", "probability", "widths"]


def _convert(text: str, convert, expected: str):
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def widths(text: str) -> tuple:
    values = _convert(
        text,
        lambda t: tuple(int(w) for w in t.split(",") if w.strip()),
        "comma-separated integers like 128,64",
    )
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive integers, got {text!r}")
    return values


def positive_int(text: str) -> int:
    value = _convert(text, int, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative(text: str) -> float:
    value = _convert(text, float, "a number")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def probability(text: str) -> float:
    value = non_negative(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return value


def betas(text: str) -> tuple:
    def pair(t: str) -> tuple:
        b1, b2 = (float(v) for v in t.split(","))
        return (b1, b2)

    return _convert(text, pair, "two numbers like 0.9,0.999")


def add_worker_options(parser) -> None:
    """``--jobs`` and ``--scheduler``, where ``chainrule lab all`` and ``chainrule sweep``
    run their work: local processes, or a Dask cluster."""
    parser.add_argument(
        "--jobs", type=positive_int, default=1, help="local worker processes (default 1)"
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler (tcp://host:8786), or `local` for a LocalCluster of --jobs "
        "workers; needs pip install 'chainrule[distributed]'",
    )
