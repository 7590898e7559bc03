"""Entry point of the ``scms`` command: one sub-command per module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from . import inspect_cmd

    parser = argparse.ArgumentParser(prog="scms", description="OpenSCMS operator tools")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect_cmd.add_parser(sub)
    __import__("scms_cli.device_cmd", fromlist=["add_parser"]).add_parser(sub)
    __import__("scms_cli.init_cmd", fromlist=["add_parser"]).add_parser(sub)
    from . import serve_cmd

    serve_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
