"""The ``chainrule`` command line: ``demo``, ``train``, ``diagnose``, ``explain``, ``drill``,
``bench``, ``verify`` and ``lab``.

Every user mistake (an unknown dataset or option value, a bad path, a corrupted or
foreign checkpoint) ends in one line, ``chainrule: error: ...``, and exit status 2, never
a traceback. A run whose loss stops being finite ends in ``chainrule: training diverged:
...`` (where, what was kept, what helps) and exit status 1. Set ``CHAINRULE_DEBUG=1`` to
see the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys

import chainrule
from chainrule._argtypes import betas as _betas
from chainrule._argtypes import non_negative as _non_negative
from chainrule._argtypes import positive_int as _positive_int
from chainrule._argtypes import probability as _probability
from chainrule._argtypes import widths as _widths
from chainrule.errors import TrainingDiverged

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2, as argparse does
        self.exit(2, f"chainrule: error: {message}\n")


# ----------------------------------------------------------------------------- commands
def _figures(name: str, metrics: dict) -> str:
    return ", ".join(f"{name} {key} {value:.4f}" for key, value in metrics.items())


def _print_result(result: dict, what: str) -> None:
    print(f"{what}: after {len(result['history'])} epochs")
    if result["validation"] is not None:
        print(f"  {_figures('validation', result['validation'])} (held out of the training data)")
    print(f"  {_figures('test', result['test'])} (the test split, evaluated once, after training)")
    written = [result["checkpoint"], result["out"] / "history.csv", result["out"] / "results.json"]
    written += [result[k] for k in ("curves", "flow_plot") if result.get(k)]
    print("wrote " + ", ".join(str(p) for p in written))


def _cmd_demo(args) -> int:
    from chainrule.train.run import Config, run

    config = Config(
        data="digits",
        model="mlp",
        hidden=(128, 64),
        activation="relu",
        optimizer="adam",
        lr=1e-3,
        epochs=args.epochs,
        batch_size=32,
        seed=args.seed,
        schedule="cosine",
    )
    print(
        f"chainrule demo: a 64-128-64-10 ReLU network learns the bundled handwritten digits "
        f"(1,797 8x8 images), Adam, {args.epochs} epochs; 10% of the training images are "
        "held out for validation, the test images are used once, at the end"
    )
    result = run(config, args.out, verbose=1)
    _print_result(result, "demo")
    return 0


def _cmd_train(args) -> int:
    from chainrule.train.run import Config, run

    config = Config(**{name: getattr(args, name) for name in Config.__dataclass_fields__})
    out = args.out or os.path.join("runs", f"{config.data}-{config.model}")
    result = run(config, out, resume=args.resume, verbose=1)
    _print_result(result, "train")
    return 0


def _cmd_diagnose(args) -> int:
    import json

    from chainrule.diagnostics.command import diagnose

    out = args.out or os.path.join("runs", f"{args.data}-{args.model}")
    report, plot = diagnose(args, out)
    if args.json:
        print(json.dumps({**report.to_dict(), "plot": str(plot)}, indent=1, allow_nan=False))
        return 0
    print(report)
    print(f"wrote {plot}")
    return 0


def _cmd_explain(args) -> int:
    import chainrule as cr
    from chainrule.diagnostics.examples import build_example

    loss, model = build_example(args.example)
    trace = cr.explain(loss, dict(model.named_parameters()))
    if args.json:
        print(trace.to_json())
        return 0
    print(trace)
    return 0


def _cmd_drill(args) -> int:
    from chainrule.drill import command

    return command.run(args)


def _cmd_bench(args) -> int:
    from chainrule.bench import runner

    names = [n.strip() for n in args.cases.split(",") if n.strip()] if args.cases else None
    runner.run(
        quick=args.quick,
        names=names,
        use_torch=not args.no_torch,
        use_jax=not args.no_jax,
        as_json=args.json,
        threads=args.threads,
    )
    return 0


def _cmd_verify(args) -> int:
    from chainrule.testing import verify

    names = [n.strip() for n in args.ops.split(",") if n.strip()] if args.ops else None
    return verify.run(names, use_torch=not args.no_torch)


def _data_and_model(parser, inits: list) -> None:
    """The data and model options, shared by ``train`` and ``diagnose``."""
    from chainrule.data import available
    from chainrule.train import recipes

    g = parser.add_argument_group("data and model")
    g.add_argument(
        "--data", choices=available(), default="digits", help="data set (default digits)"
    )
    g.add_argument("--data-root", help="folder holding (or receiving) MNIST files")
    g.add_argument(
        "--download", action="store_true", help="download MNIST / Fashion-MNIST if missing"
    )
    g.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    g.add_argument(
        "--hidden",
        type=_widths,
        default=(128, 64),
        help="hidden widths (mlp) or channels (cnn), e.g. 128,64",
    )
    g.add_argument("--activation", choices=sorted(recipes.ACTIVATIONS), default="relu")
    g.add_argument("--init", choices=inits, default="default", help="weight initialisation")
    g.add_argument(
        "--dropout",
        type=_probability,
        default=0.0,
        help="dropout probability after each hidden layer",
    )
    g.add_argument(
        "--batchnorm", action="store_true", help="batch normalisation before each activation"
    )


def _examples() -> dict:
    from chainrule.diagnostics.examples import EXAMPLES

    return EXAMPLES


def build_parser() -> argparse.ArgumentParser:
    from chainrule.train import recipes

    parser = _Parser(
        prog="chainrule",
        description="The fundamentals of training neural networks, explicit and verified.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {chainrule.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser(
        "demo",
        help="train an MLP on the bundled digits and report its validation and test accuracy",
        description="Train a 64-128-64-10 MLP on the bundled handwritten digits (about "
        "a second on two cores), print its accuracy on a validation split held out of the "
        "training data and on the test split (used once, at the end), and write the curves "
        "and a checkpoint under --out.",
    )
    demo.add_argument(
        "--epochs", type=_positive_int, default=40, help="training epochs (default 40)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--out", default=os.path.join("runs", "demo"), help="output directory (default runs/demo)"
    )
    demo.set_defaults(func=_cmd_demo)

    train = sub.add_parser(
        "train",
        help="train a network on a data set, with every choice on the command line",
        description="Train a model and write checkpoint.chainrule, history.csv/json, "
        "results.json and curves.png into --out. --val-split holds validation data out of the "
        "training data; the test split is evaluated once, after training. --resume continues "
        "a run from its checkpoint, exactly.",
    )
    _data_and_model(train, sorted(recipes.INITS))
    g = train.add_argument_group("loss and regularisation")
    g.add_argument("--loss", choices=recipes.LOSSES, default="cross_entropy")
    g.add_argument("--l1", type=_non_negative, default=0.0, help="L1 penalty weight (lasso)")
    g.add_argument(
        "--l2", type=_non_negative, default=0.0, help="L2 penalty weight (ridge), on sum w^2 / 2"
    )
    g.add_argument(
        "--clip-grad-norm", type=_non_negative, help="clip the gradients' total norm to this"
    )
    g = train.add_argument_group("optimizer and schedule")
    g.add_argument("--optimizer", choices=recipes.OPTIMIZERS, default="adam")
    g.add_argument(
        "--lr", type=_non_negative, help="learning rate (default depends on the optimizer)"
    )
    g.add_argument(
        "--momentum",
        type=_non_negative,
        default=0.9,
        help="for momentum and nesterov (default 0.9)",
    )
    g.add_argument("--weight-decay", type=_non_negative, default=0.0)
    g.add_argument(
        "--betas", type=_betas, default=(0.9, 0.999), help="Adam's betas, e.g. 0.9,0.999"
    )
    g.add_argument("--eps", type=_non_negative)
    g.add_argument("--schedule", choices=recipes.SCHEDULES, default="none")
    g.add_argument(
        "--step-size",
        type=_positive_int,
        default=10,
        help="epochs between steps of --schedule step",
    )
    g.add_argument(
        "--gamma",
        type=_non_negative,
        default=0.5,
        help="decay factor of step / exponential schedules",
    )
    g.add_argument(
        "--warmup", type=_positive_int, default=5, help="epochs of --schedule linear warm-up"
    )
    g.add_argument(
        "--t-max",
        type=_positive_int,
        help="epochs of the --schedule cosine decay (default --epochs; fix it when a run "
        "will be resumed with more --epochs)",
    )
    g = train.add_argument_group("run")
    g.add_argument("--epochs", type=_positive_int, default=20)
    g.add_argument("--batch-size", type=_positive_int, default=32)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument(
        "--val-split",
        type=_probability,
        default=0.1,
        help="fraction of the training data held out for validation (stratified by class, "
        "drawn from --seed; default 0.1); the val_ figures and --patience use it, the test "
        "split is evaluated once, at the end; 0: no validation",
    )
    g.add_argument(
        "--patience",
        type=_positive_int,
        help="stop early after this many epochs without a better validation loss",
    )
    g.add_argument("--out", help="output directory (default runs/<data>-<model>)")
    g.add_argument("--resume", help="continue from this checkpoint (same options, more --epochs)")
    g.add_argument(
        "--diagnose",
        action="store_true",
        help="record the gradient flow every --diagnose-every steps, warn once when it turns "
        "unhealthy, and plot it in gradient_flow.png",
    )
    g.add_argument(
        "--diagnose-every",
        type=_positive_int,
        default=25,
        help="steps between gradient-flow reports (default 25)",
    )
    train.set_defaults(func=_cmd_train)

    diagnose = sub.add_parser(
        "diagnose",
        help="why a network does not learn: the gradient flow of one batch, layer by layer",
        description="Build the model as chainrule train would, run one forward and backward on "
        "a batch of the training data, and print the verdict (healthy, vanishing, exploding, "
        "saturated, dead or symmetric), its numbers and remedies, a table per layer, and where "
        "it wrote the plot.",
    )
    _data_and_model(diagnose, [*sorted(recipes.INITS), "normal"])
    g = diagnose.add_argument_group("diagnosis")
    g.add_argument(
        "--init-std",
        type=_non_negative,
        default=1.0,
        help="standard deviation of --init normal (e.g. 3 for an exploding network)",
    )
    g.add_argument("--loss", choices=recipes.LOSSES, default="cross_entropy")
    g.add_argument(
        "--batch-size",
        type=_positive_int,
        default=256,
        help="samples in the diagnosed batch (default 256)",
    )
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--json", action="store_true", help="print the report as JSON")
    g.add_argument("--out", help="where to write diagnose.png (default runs/<data>-<model>)")
    diagnose.set_defaults(func=_cmd_diagnose)

    explain = sub.add_parser(
        "explain",
        help="the backward pass of a small built-in network, node by node",
        description="Print the backward pass of a built-in example in the order the engine "
        "runs it: each node's rule (from its op's definition), the gradient it receives and "
        "what it sends to each input, in the notation of docs/fundamentals.md §1 "
        "(δ = ∂L/∂z), so that it can be compared with a derivation by hand. Examples: "
        + "; ".join(f"{k}: {v[1]}" for k, v in _examples().items()),
    )
    explain.add_argument("--example", choices=list(_examples()), default="net-2-2-1")
    explain.add_argument("--json", action="store_true", help="print the trace as JSON")
    explain.set_defaults(func=_cmd_explain)

    drill = sub.add_parser(
        "drill",
        help="numeric exercises on the fundamentals, graded by chainrule's own autograd",
        description="Small exercises with numbers drawn from a seed (backpropagation, softmax, "
        "optimizer steps, batch norm, dropout, penalties, losses): answer each quantity, get it "
        "graded against chainrule's autograd, optimizers and losses, and see the worked "
        "solution. Without --json, --check or --solution the drill is interactive. --check "
        "exits 0 when every answer is right, 1 otherwise.",
    )
    drill.add_argument(
        "topic",
        nargs="?",
        metavar="TOPIC",
        help="a topic, or 'list' to list them (a random topic when omitted)",
    )
    drill.add_argument("--seed", type=int, help="the exercise's numbers (default: drawn at random)")
    g = drill.add_mutually_exclusive_group()
    g.add_argument(
        "--json",
        action="store_true",
        help="print the exercise as JSON: topic, seed, question, inputs, answer_shape",
    )
    g.add_argument(
        "--check",
        metavar="ANSWERS.json",
        help="grade a JSON object of answers keyed by quantity name",
    )
    g.add_argument("--solution", action="store_true", help="print the worked solution")
    drill.add_argument(
        "--rtol",
        type=_non_negative,
        default=1e-2,
        help="relative tolerance of a right answer (default 0.01)",
    )
    drill.set_defaults(func=_cmd_drill)

    bench = sub.add_parser(
        "bench",
        help="time training steps against PyTorch and hand-written NumPy",
        description="Time each case (MLP steps with SGD and Adam at several batch sizes, a deep narrow "
        "MLP, a LeNet-like CNN, a 5-op graph, inference) with chainrule, hand-written NumPy, PyTorch "
        "and JAX (jax.jit, in a worker process; if installed), interleaved round by round; print "
        "ms/step, samples/s, the speed ratios, the share of the sgemm rate, peak memory per step, "
        "and the BLAS, thread counts and CPUs each library used.",
    )
    bench.add_argument("--quick", action="store_true", help="fewer repeats and the main cases only")
    bench.add_argument("--json", action="store_true", help="print the results as JSON")
    bench.add_argument("--cases", metavar="NAMES", help="comma-separated case names (default: all)")
    bench.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    bench.add_argument("--no-jax", action="store_true", help="leave JAX out")
    bench.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="pin every library (BLAS, OpenMP, PyTorch's pools, XLA) to N threads and, where the "
        "OS allows, the process to N CPUs (default: each library's own thread count)",
    )
    bench.set_defaults(func=_cmd_bench)

    verify = sub.add_parser(
        "verify",
        help="check every op's derivative (finite differences) and compare with PyTorch",
        description=(
            "Check every registered op: forward against NumPy, float64 gradcheck with a random "
            "upstream gradient, second derivatives, exact values at kinks, and forward, backward "
            "and dtypes against PyTorch when it is installed. Exits non-zero if anything disagrees."
        ),
    )
    verify.add_argument("--ops", metavar="NAMES", help="comma-separated op names (default: all)")
    verify.add_argument("--no-torch", action="store_true", help="skip the comparison with PyTorch")
    verify.set_defaults(func=_cmd_verify)

    from chainrule.lab import commands as lab_commands

    lab_commands.add_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # The command owns its process: keep freed memory for the next training step instead
    # of faulting it in again (see chainrule.tune_allocator).
    chainrule.tune_allocator()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
    except TrainingDiverged as err:
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        print(f"chainrule: training diverged: {err}", file=sys.stderr)
        return 1
    except (
        ValueError,
        TypeError,
        OSError,
        KeyError,
        RuntimeError,
        MemoryError,
        ImportError,
    ) as err:
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        message = " ".join(line.strip() for line in str(err).splitlines()) or type(err).__name__
        print(f"chainrule: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
