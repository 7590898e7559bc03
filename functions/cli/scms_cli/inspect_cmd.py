"""``scms inspect FILE``: decode and explain any COER certificate or SPDU (placeholder)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("inspect", help="decode a COER certificate or SPDU")
    p.add_argument("file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("scms inspect is being written")
