"""End to end: ``scms ctl`` issues the next CTL on the local stack, the RA serves it and ``scms-ee fetch-chain``
accepts it (issue #6 §2, §5). The operator's command and the device run as separate processes over the real
local cloud (``scms serve``), as in the README.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

from tests.e2e.conftest import RunningStack
from tests.e2e.ee_helpers import REPO, Run, Stack, scms_ee
from tests.e2e.test_enroll_e2e import stack  # noqa: F401 (the "stack" fixture)


def scms(running: RunningStack, *args: str) -> Run:
    """``python -m scms_cli.main ARGS`` against the stack's moto endpoint (what the README shows)."""
    env = {
        **os.environ, "AWS_ENDPOINT_URL": running.endpoint, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1", "SCMS_SECRET_PREFIX": "scms/local/",
    }  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "scms_cli.main", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env, check=False)  # fmt: skip
    return Run(done.returncode, done.stdout, done.stderr)


def _stored_sequence(state: Path) -> int:
    return int(json.loads((state / "state.json").read_text(encoding="utf-8"))["ccf"]["ctl_sequence_number"])


def test_a_ctl_from_scms_ctl_is_served_and_accepted_by_the_device(
    stack: Stack,  # noqa: F811
    local_stack: RunningStack,
    tmp_path: Path,
) -> None:
    # Given the stack's CTL #1 and a device that trusted its root on first use
    show = scms(local_stack, "ctl", "show")
    assert show.code == 0, show.err
    match = re.search(r"CTL series ([0-9a-f]{16}) #1", show.out)
    assert match, show.out
    series = match.group(1)
    state = tmp_path / "obu-ctl"
    assert scms_ee(stack, state, "init").code == 0
    first = scms_ee(stack, state, "fetch-chain", "--series", series)
    assert first.code == 0, first.err
    assert _stored_sequence(state) == 1

    # When the operator lowers the quorum (CTL #2, signed by both electors)
    issued = scms(local_stack, "ctl", "quorum", "1")
    assert issued.code == 0, issued.err
    assert f"Published CTL #2 of series {series}" in issued.out

    # Then GET /v3/ctl holds CTLs #1 and #2, and the device accepts the CCF with CTL #2
    with urllib.request.urlopen(f"{local_stack.url}/v3/ctl?ctlSeriesId={series}", timeout=30) as answer:
        names = zipfile.ZipFile(io.BytesIO(answer.read())).namelist()
    assert names == [f"ctl_{series}_1.oer", f"ctl_{series}_2.oer"]
    second = scms_ee(stack, state, "fetch-chain")
    assert second.code == 0, second.err
    assert _stored_sequence(state) == 2

    # Twin: nonsense (a quorum above the electors) is refused, nothing published, the device unchanged.
    refused = scms(local_stack, "ctl", "quorum", "3")
    assert refused.code == 1 and "must be from 1" in refused.err
    assert "#2" in scms(local_stack, "ctl", "show").out.splitlines()[0]
    again = scms_ee(stack, state, "fetch-chain")
    assert again.code == 0 and "unchanged" in again.out
