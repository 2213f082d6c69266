"""``chainrule lab list | run | all``: the lab's commands.

``run`` and ``all`` exit with status 0 when every check passed and 1 when one failed (an
experiment that raised counts as failed); bad input (an unknown name, a report path that
is a file, an unreachable scheduler) is a one-line error with status 2, as everywhere in
the ``chainrule`` command.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

from chainrule._argtypes import add_worker_options

__all__ = ["add_parser"]


def _cmd_list(args) -> int:
    from chainrule.lab import registry

    width = max(len(n) for n in registry.names())
    room = 100 - width - 5
    print(f"{'experiment':<{width}}  §  claim (in full: chainrule lab run NAME --smoke)")
    for name in registry.names():
        exp = registry.get(name)
        claim = exp.claim if len(exp.claim) <= room else exp.claim[: room - 1].rstrip() + "…"
        print(f"{name:<{width}}  {exp.section}  {claim}")
    print(f"{len(registry.names())} experiments")
    return 0


def _json_line(result, figures: list[str]) -> str:
    summary = result.summary()
    summary["figures"] = figures
    return json.dumps(summary)


def _cmd_run(args) -> int:
    from chainrule.lab import registry, runner

    exp = registry.get(args.name)  # an unknown name: ValueError listing the known ones
    out = Path(args.out or os.path.join("runs", "lab", exp.name))
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out}: this is a file; give a folder for the figures")
    result = runner.run_experiment(exp.name, seed=args.seed, smoke=args.smoke)
    figures = [str(p) for p in runner.write_figures(result, out)]
    if args.json:
        print(_json_line(result, figures))
        return 0 if result.passed else 1
    mode = "smoke run" if args.smoke else "full run"
    print(f"{exp.name} (section {exp.section}, {mode}, seed {args.seed}, {result.seconds:.1f} s)")
    print(textwrap.fill(f"Claim: {exp.claim}", 100))
    for check in result.checks:
        print(f"  {check}")
    if result.error:
        print(result.traceback, file=sys.stderr)
        print(f"{exp.name}: FAILED, it raised {result.error}")
    else:
        print(f"{exp.name}: {'passed' if result.passed else 'FAILED'}")
    if figures:
        print("wrote " + ", ".join(figures))
    return 0 if result.passed else 1


def _cmd_all(args) -> int:
    from chainrule.lab import report, runner
    from chainrule.parallel import make_executor

    out = Path(args.report or os.path.join("runs", "lab"))
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--report {out}: this is a file; give a folder for the report")
    start = time.perf_counter()
    import chainrule

    # Worker processes are commands' processes too: they keep freed memory for the next
    # training step, as this one does (see chainrule.tune_allocator).
    with make_executor(
        jobs=args.jobs, scheduler=args.scheduler, initializer=chainrule.tune_allocator
    ) as executor:
        where = executor.describe()
        mode = "smoke" if args.smoke else "full"
        print(f"chainrule lab: every experiment, {mode} runs, seed {args.seed}, on {where}")
        results = runner.run_all(seed=args.seed, smoke=args.smoke, executor=executor)
    seconds = time.perf_counter() - start
    width = max(len(r.name) for r in results)
    for r in results:
        verdict = "passed" if r.passed else "FAILED"
        detail = f"  ({r.error})" if r.error else ""
        checks = f"{sum(c.passed for c in r.checks)}/{len(r.checks)}"
        print(f"  {r.name:<{width}}  {verdict:<6}  {checks:>5} checks  {r.seconds:6.1f} s{detail}")
    failed = [r.name for r in results if not r.passed]
    page = report.write_report(results, out, seconds=seconds, where=where)
    print(
        f"{len(results) - len(failed)} of {len(results)} passed in {seconds:.0f} s"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    print(f"report: {page}")
    return 1 if failed else 0


def add_parser(sub) -> None:
    """Add ``lab`` and its subcommands to the ``chainrule`` parser's subparsers."""
    lab = sub.add_parser(
        "lab",
        help="the fundamentals' claims as experiments that run, plot and check themselves",
        description="Every claim of the fundamentals as a seeded experiment: `list` names "
        "them, `run NAME` runs one, `all` runs every one and writes an HTML report.",
    )
    lab_sub = lab.add_subparsers(dest="lab_command", metavar="COMMAND", parser_class=type(lab))

    def usage(args) -> int:
        lab.print_help()
        return 2

    lab.set_defaults(func=usage)

    ls = lab_sub.add_parser("list", help="name every experiment, its section and its claim")
    ls.set_defaults(func=_cmd_list)

    run = lab_sub.add_parser(
        "run",
        help="run one experiment, write its figures, print its checks",
        description="Run one experiment: print its claim and checks, write its figures into "
        "--out. Exit status 0 when every check passed, 1 otherwise.",
    )
    run.add_argument("name", metavar="NAME", help="an experiment (see `chainrule lab list`)")
    run.add_argument("--smoke", action="store_true", help="the small sizes (seconds)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--out", help="folder for the figures (default runs/lab/NAME)")
    run.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object {"name", "claim", "section", "passed", "metrics", '
        '"figures", ...}',
    )
    run.set_defaults(func=_cmd_run)

    every = lab_sub.add_parser(
        "all",
        help="run every experiment and write the HTML report",
        description="Run every experiment (in --jobs local processes, or on a Dask cluster "
        "with --scheduler) and write DIR/index.html, one self-contained page, and "
        "DIR/results.json. Exit status 0 when every experiment passed, 1 otherwise.",
    )
    every.add_argument("--smoke", action="store_true", help="the small sizes (seconds each)")
    every.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    every.add_argument("--report", metavar="DIR", help="report folder (default runs/lab)")
    add_worker_options(every)
    every.set_defaults(func=_cmd_all)
