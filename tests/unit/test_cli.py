"""The `scms` command: `serve` is honest about what exists."""

from __future__ import annotations

import pytest

from scms_cli.main import main


def test_serve_says_the_service_is_not_built_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "not built yet" in err and "scms inspect" in err


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
