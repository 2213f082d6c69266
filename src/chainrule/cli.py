"""The ``chainrule`` command line.

Every user mistake ends in a one-line ``chainrule: error: ...`` message and exit status
2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

import chainrule

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2, as argparse does
        self.exit(2, f"chainrule: error: {message}\n")


def _cmd_verify(args) -> int:
    from chainrule.testing import verify

    names = [n.strip() for n in args.ops.split(",") if n.strip()] if args.ops else None
    return verify.run(names, use_torch=not args.no_torch)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chainrule",
        description="The fundamentals of training neural networks, explicit and verified.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {chainrule.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

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
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        print(f"chainrule: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
