"""Entry point of the ``scms`` command: one sub-command per module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import crl_cmd, ctl_cmd, device_cmd, init_cmd, inspect_cmd, revoke_cmd, serve_cmd, status_cmd


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scms", description="OpenSCMS operator tools")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (serve_cmd, init_cmd, device_cmd, inspect_cmd, status_cmd, ctl_cmd, revoke_cmd, crl_cmd):
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
