"""No private key, ECQV value or API key reaches a log (issue #7 §2): a full local run, every log byte scanned.

The stack is started as ``make serve`` starts it, its stdout and stderr going byte for byte to a
file (Powertools JSON logs, EMF metrics, the gateway's and moto's lines, tracebacks). Devices are
registered and enrolled (explicit and implicit) with the real ``scms-ee`` over HTTP; one is refused
(re-enrollment) and the management API and ``scms status`` are used too, so that refusal and
management paths log as well. After a clean stop the secrets are read back — the CA keys from the
state file (the Secrets Manager snapshot), the device keys from the ``scms-ee`` state directories,
r from the implicit response in the trace, the management API key from the state directory — and
every captured byte (the stack's log and every command's output) is scanned for each in every
encoding ``secret_scan.Needles`` knows. The scanner's failing twin injects a key into a real log line.

Provisioning is part of the run (issue #7 §2): the explicit device asks for UBK explicit and OBK
implicit pseudonyms, the implicit one for CUBK implicit and private explicit ones, each downloaded
and verified, so the state machine's tasks (RA plan/expand/draw/deliver/finish/assemble, LA1/LA2,
ACA) log through the whole pipeline. Scanned besides: each request's caterpillar private keys
and expansion keys (the device's ``provisioning/<REQHASH>/keys.json``), every pseudonym private key
it derived (``pseudonyms/<REQHASH>/<i>/keys.json``), the linkage seeds (the ``seed`` of every item
in the LA1/LA2 tables of the state file) and each request's chain id (``chainId`` of its RaTable
item: the device's name at the LAs).

A pseudonym of the implicit device is then revoked through the MA (`scms revoke --certificate`), so
the revocation path logs (MA, ACA lookup, RA revoke, LA seed tasks, CRL generator), and the revoked
device's next request is refused. Its linkage seeds published on the CRL are those of the current
i-period; the scan looks for the LAs' stored seeds.

Not reachable, so not scanned: the ECA's ECQV random k_CA and the device's request k (both live in
memory only and are never written anywhere); the pre-linkage values, which exist in clear only
inside the LAs while they are computed and inside the ACA while it decrypts them (the RA carries
them encrypted for the ACA, and nothing stores them); linkage values are not secret (they are in
every certificate).
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from scms_cli.local.state import _decode_attr
from scms_codec.spdu import parse_eca_ee_cert_response
from tests.e2e.secret_scan import Needles

REPO = Path(__file__).resolve().parents[2]
READY = re.compile(rb"^SCMS ready: (http://\S+)", re.MULTILINE)
MOTO = re.compile(rb"^moto \(.*\): (http://\S+)", re.MULTILINE)
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


@dataclass
class Run:
    """Everything a local run printed, and where its state is."""

    state_dir: Path
    log: Path
    url: str = ""
    endpoint: str = ""
    outputs: list[bytes] = field(default_factory=list)  # every command's stdout and stderr

    @property
    def api_key(self) -> str:
        return (self.state_dir / "management-api-key").read_text(encoding="utf-8").strip()

    def all_bytes(self) -> bytes:
        return self.log.read_bytes() + b"\n".join(self.outputs)

    def command(self, *argv: str) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(argv, capture_output=True, timeout=120, cwd=REPO, env=_env(), check=False)
        self.outputs += [done.stdout, done.stderr]
        return done

    def ee(self, state: Path, *args: str, trace: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        extra = ["--trace", str(trace)] if trace is not None else []
        return self.command(
            sys.executable, "-m", "scms_ee.main", "--url", self.url, "--state", str(state), *extra, *args
        )


CHAIN_ID = ": chain id"  # the name suffix of chain id needles
# Provisioning kept small: 2 periods of 2 certificates per request.
PROVISIONING = (
    ("obu-explicit", "ubk", "explicit"),
    ("obu-explicit", "obk", "implicit"),
    ("obu-implicit", "cubk", "implicit"),
    ("obu-implicit", "private", "explicit"),
)


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SCMS_CERTS_PER_PERIOD": "2"}
    env.pop("AWS_ENDPOINT_URL", None)
    return env


def _wait_ready(process: subprocess.Popen[bytes], log: Path) -> tuple[str, str]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        data = log.read_bytes()
        ready, moto = READY.search(data), MOTO.search(data)
        if ready and moto:
            return ready.group(1).decode(), moto.group(1).decode()
        if process.poll() is not None:
            break
        time.sleep(0.1)  # polling for the ready line, not timing anything
    raise AssertionError(f"scms serve did not become ready:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """A full local run: stack started with all output captured, devices enrolled, stack stopped (state saved)."""
    root = tmp_path_factory.mktemp("secret-scan")
    result = Run(state_dir=root / "state", log=root / "serve.log")
    with result.log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "scms_cli.main", "serve", "--port", "0", "--moto-port", "0",
             "--state-dir", str(result.state_dir), "--snapshot-seconds", "0"],
            cwd=REPO, env=_env(), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        result.url, result.endpoint = _wait_ready(process, result.log)
        _exercise(result, root)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0, result.log.read_text(errors="replace")
    yield result


def _exercise(run: Run, root: Path) -> None:
    """Register and enroll an explicit and an implicit device, one refusal, management reads, status."""
    key = f"--api-key={run.api_key}"
    for name, cert_type in (("obu-explicit", "explicit"), ("obu-implicit", "implicit")):
        state = root / name
        assert run.ee(state, "init").returncode == 0
        assert run.ee(state, "register", key, "--device-id", name, "--psid", "32").returncode == 0
        enrolled = run.ee(state, "enroll", "--type", cert_type, trace=root / f"trace-{name}")
        assert enrolled.returncode == 0, enrolled.stderr
    for name, variant, cert_type in PROVISIONING:
        provisioned = run.ee(root / name, "provision", "--variant", variant, "--cert", cert_type, "--periods", "2",
                             "--workers", "1", "--wait", "90", trace=root / f"trace-{name}-{variant}")  # fmt: skip
        assert provisioned.returncode == 0, provisioned.stderr
    again = run.ee(root / "obu-explicit", "enroll")
    assert again.returncode != 0  # re-enrollment refused (400-32): the refusal path logs too
    listed = run.command(sys.executable, "-m", "scms_cli.main", "device", "--url", run.url, key, "list")
    assert listed.returncode == 0, listed.stderr
    status = run.command(sys.executable, "-m", "scms_cli.main", "status", "--url", run.url, "--endpoint", run.endpoint)
    assert status.returncode == 0, status.stdout + status.stderr
    # Revocation (issue #6): one pseudonym of the implicit device, so the MA, the ACA lookup, the RA's
    # revoke task, LA1/LA2's seed tasks and the CRL generator all log; the device's seeds are scanned.
    pseudonym = sorted((root / "obu-implicit" / "pseudonyms").glob("*/*/*.oer"))[0]
    revoked = run.command(sys.executable, "-m", "scms_cli.main", "revoke", "--url", run.url, key,
                          "--certificate", str(pseudonym), "--cause", "secret scan")  # fmt: skip
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    listed = run.command(sys.executable, "-m", "scms_cli.main", "reports", "--url", run.url, key, "revocations")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    refused = run.ee(root / "obu-implicit", "provision", "--variant", "cubk", "--cert", "implicit", "--periods", "1")
    assert refused.returncode != 0  # a revoked device is refused (400-20): that refusal logs too


def _needles(run: Run, root: Path) -> Needles:
    needles = Needles()
    state = json.loads((run.state_dir / "state.json").read_text(encoding="utf-8"))
    for secret in state["secrets"]:
        name = secret["name"]
        if "string" not in secret:
            needles.octets(name, base64.b64decode(secret["binary"]))
            continue
        value = secret["string"]
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        if isinstance(parsed, dict):
            for field_name, item in parsed.items():
                if isinstance(item, str) and "PRIVATE KEY" in item:
                    needles.pem(f"{name}:{field_name}", item)
                elif isinstance(item, str):
                    needles.text(f"{name}:{field_name}", item)
        else:
            needles.text(name, str(parsed))
            raw = _decoded(str(parsed))
            if raw is not None:
                needles.octets(name, raw)  # a symmetric key or seed stored as hex/base64 text
    for device in ("obu-explicit", "obu-implicit"):
        for pem in ("canonical.pem", "enrollment.pem"):
            needles.pem(f"{device}/{pem}", (root / device / pem).read_text(encoding="ascii"))
        trace = root / f"trace-{device}"
        for response in trace.glob("*-EcaEeCertResponseSpdu.oer"):
            r = parse_eca_ee_cert_response(response.read_bytes()).content.private_key_info
            if r is not None:
                needles.octets(f"{device}: ECQV r", r)
    needles.text("management API key", run.api_key)
    _provisioning_needles(needles, state, root)
    return needles


def _provisioning_needles(needles: Needles, state: dict[str, object], root: Path) -> None:
    """Caterpillar and expansion keys, pseudonym keys, linkage seeds and chain ids of the run's provisioning."""
    for device in {name for name, _, _ in PROVISIONING}:
        for keys in (root / device / "provisioning").glob("*/keys.json"):
            request = keys.parent.name
            for field_name, value in json.loads(keys.read_text()).items():
                if field_name != "variant":
                    needles.octets(f"{device}/{request}: {field_name}", bytes.fromhex(value))
        for keys in (root / device / "pseudonyms").glob("*/*/keys.json"):
            for j, value in json.loads(keys.read_text()).items():
                needles.octets(f"{device}/{keys.parent.parent.name}/{keys.parent.name}/{j}: pseudonym key",
                               bytes.fromhex(value))  # fmt: skip
    tables = state["dynamodb"]
    assert isinstance(tables, dict)
    for table, rows in tables.items():
        for index, row in enumerate(rows):
            item = _decode_attr(row)
            if "seed" in item and table.endswith(("-la1", "-la2")):
                # Named by position: the item's key holds the chain id, itself a secret.
                needles.octets(f"{table} item {index}: linkage seed", item["seed"]["B"])
            if item.get("sk", {}).get("S") == "REQ" and "chainId" in item:
                needles.octets(f"{item['pk']['S']}{CHAIN_ID}", item["chainId"]["B"])


def _decoded(text: str) -> bytes | None:
    """The octets of a hex or base64 secret string (16 octets or more), else None."""
    if re.fullmatch(r"(?:[0-9a-fA-F]{2}){16,}", text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return raw if len(raw) >= 16 else None


@pytest.fixture(scope="module")
def needles(run: Run) -> Needles:
    return _needles(run, run.state_dir.parent)


def test_the_run_logged_what_it_should(run: Run) -> None:
    # The scan below is only worth something if the logs hold the flows: request lines, library lines, EMF.
    log = run.log.read_bytes()
    assert b'"authority":"eca"' in log and b'"authority":"ra"' in log
    assert b'"message":"enrollment certificate issued"' in log
    assert b'"error_code":"400-32"' in log
    assert b'"CertificatesIssued"' in log and b'"CertType":"implicit"' in log
    assert b'"correlation_id"' in log
    # The revocation ran through the MA, the ACA lookup, both LAs' seed tasks and the CRL generator.
    for line in (b"revocation recorded", b"certificates looked up", b"seed answered", b"CRLs published"):
        assert line in log, line
    assert log.count(b"seed answered") >= 2
    # Provisioning ran through every part of the pipeline.
    for message in (b'"request planned"', b'"chunk pooled"', b'"batch drawn"', b'"batch answered"',
                    b'"batch delivered"', b'"batch files written"', b'"request provisioned"'):  # fmt: skip
        assert message in log, message


def test_every_secret_is_known_to_the_scan(needles: Needles) -> None:
    names = set(needles.by_name)
    ca_keys = {n for n in names if "/ca/" in n and n.endswith(":signingKey")}
    assert len(ca_keys) == 11, sorted(names)  # root, ica, eca, aca, ra, la1, la2, ma, crlg, elector1, elector2
    assert {n for n in names if "/ca/" in n and n.endswith(":encryptionKey")}, "RA/MA encryption keys"
    assert {"obu-explicit/canonical.pem", "obu-implicit/enrollment.pem", "obu-implicit: ECQV r"} <= names
    assert "management API key" in names
    # Provisioning: four requests' keys, their pseudonyms' keys, two seeds (LA1, LA2) per request, four chain ids.
    assert sum(1 for n in names if n.endswith(": signing")) == len(PROVISIONING)
    assert sum(1 for n in names if n.endswith(": signing_expansion")) == 3  # butterfly requests
    assert sum(1 for n in names if n.endswith(": pseudonym key")) == 3 * 2 * 2 + 1
    assert sum(1 for n in names if n.endswith(": linkage seed")) == 2 * 3
    assert sum(1 for n in names if n.endswith(CHAIN_ID)) == len(PROVISIONING)


def test_no_secret_appears_in_any_log_byte(run: Run, needles: Needles) -> None:
    found = [name for name in needles.scan(run.all_bytes()) if not name.endswith(CHAIN_ID)]
    assert found == [], f"secrets found in the logs: {found}"


def test_no_chain_id_appears_in_any_log_byte(run: Run, needles: Needles) -> None:
    found = [name for name in needles.scan(run.all_bytes()) if name.endswith(CHAIN_ID)]
    assert found == [], f"chain ids found in the logs: {len(found)}"


def test_the_scan_finds_a_key_injected_into_a_real_log_line(run: Run, needles: Needles) -> None:
    # Given a real request line of the captured log, and the ECA's signing key in each encoding
    log = run.log.read_bytes()
    line = next(ln for ln in log.splitlines() if b'"message":"request"' in ln)
    eca_name = next(n for n in needles.by_name if "/ca/eca/" in n and n.endswith(":signingKey"))
    for form in sorted(needles.by_name[eca_name]):
        # When one form is spliced into the line
        poisoned = log + b"\n" + line.replace(b'"message":"request"', b'"message":"request ' + form + b'"')
        # Then the scan names the key
        assert eca_name in needles.scan(poisoned), form


def test_the_scan_finds_each_encoding_of_a_fresh_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    needles = Needles()
    needles.private_key("k", key)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    for leak in (scalar, scalar.hex().encode(), scalar.hex().upper().encode(), repr(scalar).encode()):
        assert needles.scan(b"log line " + leak + b" end") == ["k"]
    assert needles.scan(b"log line without secrets") == []
