"""The `scms` command: every sub-command is wired to its module."""

from __future__ import annotations

import pytest

from scms_cli import serve_cmd
from scms_cli.main import build_parser, main


def test_serve_is_wired_to_the_local_stack() -> None:
    args = build_parser().parse_args(["serve", "--port", "0"])
    assert args.func is serve_cmd.run
    assert args.port == 0


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
