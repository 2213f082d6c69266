"""``chainrule sweep``: ``chainrule train`` over a grid of options and seeds.

The command takes every option of ``chainrule train`` (the same argparse actions, so the
same types, choices and checks) as the options all runs share, and ``--grid KEY=V1,V2,...``
(repeatable) for the ones that vary; each grid value is parsed by the very action that
parses ``--KEY`` for ``chainrule train``. Exit status: 0 when every run finished, 1 when
one failed (its error is in ``results.csv``), 2 for bad input, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

from chainrule._argtypes import add_worker_options, positive_int

__all__ = ["add_parser", "parse_grid"]

# chainrule train's options that a sweep sets itself, per run.
_NOT_SHARED = ("help", "out", "resume")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _options(train: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """chainrule train's options a grid may vary, by long option name."""
    return {
        option[2:]: action
        for option, action in train._option_string_actions.items()
        if option.startswith("--") and action.dest not in _NOT_SHARED
    }


def _value(key: str, action: argparse.Action, text: str):
    """One grid value, parsed as ``chainrule train --KEY TEXT`` would parse it."""
    where = f"--grid {key}: "
    if action.nargs == 0:  # a flag such as --batchnorm
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{where}--{key} is a flag; give true or false, got {text!r}")
    if text == "default":
        return action.default
    try:
        value = action.type(text) if action.type is not None else text
    except argparse.ArgumentTypeError as err:
        raise ValueError(f"{where}{err}") from None
    except (TypeError, ValueError):
        kind = getattr(action.type, "__name__", "value")
        raise ValueError(f"{where}invalid {kind} value: {text!r}") from None
    if action.choices is not None and value not in action.choices:
        raise ValueError(
            f"{where}invalid choice: {text!r} (choose from {', '.join(map(str, action.choices))})"
        )
    return value


def parse_grid(texts: list[str], train: argparse.ArgumentParser) -> dict[str, list]:
    """``["optimizer=sgd,adam", "lr=0.1,0.01"]`` -> ``{"optimizer": ["sgd", "adam"], "lr":
    [0.1, 0.01]}``, typed and checked by ``chainrule train``'s own options. Values are
    separated by commas, or by semicolons when a value holds commas itself
    (``hidden=64,32;128``)."""
    if not texts:
        raise ValueError(
            "the grid is empty: give at least one --grid KEY=V1,V2,... (e.g. --grid "
            "lr=0.1,0.01); to repeat one configuration over seeds, --grid seed=0,1,2"
        )
    options = _options(train)
    grid: dict[str, list] = {}
    for text in texts:
        key, equals, rest = text.partition("=")
        key = key.strip().lstrip("-").replace("_", "-")
        if not equals or not key:
            raise ValueError(f"--grid expects KEY=V1,V2,..., got {text!r}")
        action = options.get(key)
        if action is None:
            raise ValueError(
                f"unknown option {key!r} in --grid {text}; chainrule train's options are: "
                + ", ".join(sorted(options))
            )
        if action.dest in grid:
            raise ValueError(f"--grid gives {key!r} twice; list all its values in one --grid")
        parts = [p.strip() for p in rest.split(";" if ";" in rest else ",")]
        if rest.strip() == "" or any(p == "" for p in parts):
            raise ValueError(f"--grid {text}: a value is missing (give KEY=V1,V2,...)")
        try:
            grid[action.dest] = [_value(key, action, p) for p in parts]
        except ValueError as err:
            if ";" in rest:
                raise
            try:  # one value that holds commas, as --hidden 64,32 and --betas 0.9,0.99 do?
                _value(key, action, rest)
            except ValueError:
                raise err from None
            raise ValueError(
                f"{err}; to give --{key} values that hold commas, separate the values with "
                f"semicolons: --grid '{key}={rest};...'"
            ) from None
    return grid


def _cmd_sweep(args, train: argparse.ArgumentParser) -> int:
    import chainrule
    from chainrule.parallel import make_executor
    from chainrule.train.run import Config
    from chainrule.train.sweeps import expand, sweep

    grid = parse_grid(args.grid, train)
    base = Config(**{name: getattr(args, name) for name in Config.__dataclass_fields__})
    expand(grid, base, args.seeds)  # every mistake reported before a worker starts
    # Worker processes keep freed memory for the next training step, as this one does,
    # and start with what every run imports (chainrule train's modules and pyplot, for
    # its curves) already imported, once, by the server they are forked from.
    with make_executor(
        jobs=args.jobs,
        scheduler=args.scheduler,
        initializer=chainrule.tune_allocator,
        preload=("chainrule.train.run", "chainrule.train.sweeps", "matplotlib.pyplot"),
    ) as executor:
        try:
            table = sweep(grid, base, seeds=args.seeds, executor=executor, out=args.out)
        except KeyboardInterrupt:
            print(
                f"chainrule sweep: interrupted; the finished runs are in {args.out}/results.csv; "
                "the same command again skips them and resumes the others from their "
                "checkpoints",
                file=sys.stderr,
            )
            raise
    if table.failed:
        print(
            f"chainrule sweep: {len(table.failed)} of {len(table)} runs failed "
            f"(first: {table.failed[0]['run']}: {table.failed[0]['error']}); the same command "
            "again retries them",
            file=sys.stderr,
        )
        return 1
    return 0


def add_parser(sub, train: argparse.ArgumentParser) -> None:
    """Add ``sweep`` to the ``chainrule`` subcommands, with the options of ``train``."""
    sweep = sub.add_parser(
        "sweep",
        help="train over a grid of options and seeds, at once, locally or on a Dask cluster",
        description="Train every combination of the --grid options with every seed: each run "
        "is the `chainrule train` run with those options, written to DIR/runs/NAME "
        "(checkpoint, history, curves). DIR/results.csv and results.json hold a row per run, "
        "DIR/summary.csv the mean ± std over seeds per configuration, and DIR/sweep.png the "
        "metric against each option and the best configuration's curves. The same command "
        "again skips the finished runs and resumes the others from their checkpoints.",
    )
    # The very actions of `chainrule train`, so a fixed option parses as it does there.
    for group in train._action_groups:
        actions = [a for a in group._group_actions if a.dest not in _NOT_SHARED]
        if actions:
            target = sweep.add_argument_group(
                f"{group.title} (chainrule train's options, shared by every run)",
                group.description,
            )
            for action in actions:
                target._add_action(action)
    g = sweep.add_argument_group("sweep")
    g.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="an option of chainrule train and its values (repeatable), e.g. --grid "
        "optimizer=sgd,adam --grid lr=0.1,0.01; a flag takes true,false; `default` is the "
        "option's default; separate values that hold commas with semicolons: "
        "--grid 'hidden=64,32;128'",
    )
    g.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        help="seeds per configuration, --seed, --seed + 1, ... (default 1)",
    )
    add_worker_options(g)
    g.add_argument(
        "--out",
        metavar="DIR",
        default="runs/sweep",
        help="the sweep's folder (default runs/sweep); an earlier sweep's is continued",
    )
    sweep.set_defaults(func=partial(_cmd_sweep, train=train))
