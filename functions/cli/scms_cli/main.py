"""Entry point of the ``scms`` command: one sub-command per module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _serve(_: argparse.Namespace) -> int:
    # The service (local cloud, gateway, handlers) is issue #4. Say so rather than pretend.
    print(
        "scms serve: the local SCMS service is not built yet (see README.md, 'Status').\n"
        "What exists today: the codec layer (layers/codec/scms_codec) and `scms inspect FILE`.",
        file=sys.stderr,
    )
    return 2


def build_parser() -> argparse.ArgumentParser:
    from . import inspect_cmd

    parser = argparse.ArgumentParser(prog="scms", description="OpenSCMS operator tools")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect_cmd.add_parser(sub)
    __import__("scms_cli.init_cmd", fromlist=["add_parser"]).add_parser(sub)
    serve = sub.add_parser("serve", help="start the SCMS locally")
    serve.set_defaults(func=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
