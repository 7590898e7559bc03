"""``scms serve`` (``make serve``): the whole SCMS on this machine, in one process, from infra/template.yaml.

Order: restore the KMS key → moto server → the template's tables and bucket → restore the saved
items, objects and secrets → handler environment (``AWS_ENDPOINT_URL`` → moto) → the hierarchy
(``scms init``, idempotent) → Step Functions resources (functions, state machines: their ARNs
resolve the functions' environments) → handlers, task worker pool → provisioning of requests a
previous run left unfinished started again → the gateway on ``--host:--port``. On SIGINT/SIGTERM:
stop the gateway, write the state, stop moto. docs/local.md explains it.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from . import init_cmd

__all__ = ["API_KEY_FILE", "LocalStack", "add_parser", "run"]

log = logging.getLogger("scms.serve")

API_KEY_FILE = "management-api-key"
DEFAULT_SNAPSHOT_SECONDS = 30


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("serve", help="start the SCMS locally (moto + the real handlers behind a local gateway)")
    parser.add_argument("--host", default="127.0.0.1", help="gateway address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="gateway port (default 8080; 0 = any free port)")
    parser.add_argument("--moto-port", type=int, default=0, help="moto server port (default: any free port)")
    parser.add_argument(
        "--state-dir", default=None, help="where state survives restarts (default SCMS_STATE_DIR, else .scms)"
    )
    parser.add_argument(
        "--snapshot-seconds",
        type=float,
        default=DEFAULT_SNAPSHOT_SECONDS,
        help=f"also write the state this often (default {DEFAULT_SNAPSHOT_SECONDS}; 0 = only on shutdown)",
    )
    parser.add_argument("--no-init", action="store_true", help="do not create the CA hierarchy on start")
    parser.set_defaults(func=run)


@dataclass
class LocalStack:
    """The running local SCMS: moto, resources, state, hierarchy and gateway. ``start``/``stop``, or ``run``."""

    host: str = "127.0.0.1"
    port: int = 8080
    moto_port: int = 0
    state_dir: Path | None = None
    snapshot_seconds: float = DEFAULT_SNAPSHOT_SECONDS
    init: bool = True
    out: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    url: str = ""
    _stopping: threading.Event = field(default_factory=threading.Event)
    _stop_requested: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _cloud: Any = None
    _server: Any = None
    _settings: Any = None
    # True once moto holds everything the state file held: only then may a snapshot replace that file.
    _restored: bool = False

    def start(self) -> str:
        """Bring everything up; returns the gateway URL."""
        from scms_service import aws
        from scms_service.config import load_settings
        from werkzeug.serving import make_server

        from .local.cloud import LocalCloud, handler_environment
        from .local.gateway import Gateway, handler_for
        from .local.state import read_state
        from .local.template import api_routes, functions, process_environment, resolve_function

        # SCMS_* variables set before the start are the operator's: they win over the template's.
        explicit = {key for key in os.environ if key.startswith("SCMS_")}
        state_dir = self.state_dir or Path(os.environ.get("SCMS_STATE_DIR", ".scms"))
        self.state_dir = state_dir.resolve()
        saved = read_state(self.state_dir)

        self._cloud = cloud = LocalCloud(port=self.moto_port)
        endpoint = cloud.start()
        kms_key_id = cloud.create_kms_key(saved.get("kms") if saved else None)

        # The handlers' environment, exactly what Lambda would give them; explicit SCMS_* wins.
        env = handler_environment(endpoint, kms_key_id)
        for key, value in env.items():
            if key.startswith("SCMS_") and key in os.environ and key != "SCMS_KMS_KEY_ID":
                continue
            os.environ[key] = value
        os.environ.pop("AWS_PROFILE", None)
        os.environ["SCMS_STATE_DIR"] = str(self.state_dir)
        aws.reset_clients()
        self._settings = settings = load_settings()

        cloud.create_resources(settings)
        if saved:
            cloud.restore(saved)
            self.out(f"state: restored from {self.state_dir}")
        else:
            self.out(f"state: new, kept in {self.state_dir}")
        self._restored = True

        if self.init:
            self._bootstrap(settings)

        # Step Functions resources first: a function's environment may name one (RaFunction's
        # SCMS_PROVISION_STATE_MACHINE), and handlers read their environment when imported.
        names = self._step_functions_resources(functions())
        specs = [resolve_function(spec, names, keep=explicit) for spec in functions()]
        os.environ.update(process_environment(specs, keep=explicit))
        handlers = {}
        for spec in specs:
            handler = handler_for(spec, {k: str(v) for k, v in spec.environment.items()})
            if handler is None:
                self.out(f"warning: {spec.logical_id} ({spec.code_dir}) did not load; its routes answer 502")
            else:
                handlers[spec.logical_id] = handler
        self._run_tasks(handlers, specs)
        self._resume(names, settings)

        gateway = Gateway.from_template(api_routes(), handlers)
        self._server = make_server(self.host, self.port, gateway, threaded=True)
        port = self._server.server_port
        self.url = f"http://{self.host}:{port}"
        serving = threading.Thread(target=self._server.serve_forever, name="scms-gateway", daemon=True)
        serving.start()
        self._threads.append(serving)
        if self.snapshot_seconds > 0:
            saver = threading.Thread(target=self._snapshots, name="scms-snapshots", daemon=True)
            saver.start()
            self._threads.append(saver)

        self.out(f"moto (DynamoDB, S3, Secrets Manager, KMS, Step Functions): {endpoint}")
        for route in gateway.routes:
            self.out(f"  {route.method:6} {self.url}{route.path}  → {route.function}")
        self.out(f"management API key: {self.state_dir / API_KEY_FILE} (header X-Api-Key)")
        self.out(f"SCMS ready: {self.url}  (Ctrl-C to stop)")
        return self.url

    def _bootstrap(self, settings: Any) -> None:
        """``scms init``: create the hierarchy if missing; on first creation keep the API key in the state dir."""
        from scms_service import hierarchy
        from scms_service.linkage_keys import ensure_la_aca_keys
        from scms_service.stores.artifacts import S3Artifacts
        from scms_service.stores.ca import DynamoDbCaStore, SecretsManagerKeyVault

        from scms_codec import time32

        vault = SecretsManagerKeyVault.from_settings(settings)
        ca, created = hierarchy.init_hierarchy(
            settings,
            DynamoDbCaStore.from_settings(settings),
            vault,
            S3Artifacts.from_settings(settings),
            now=time32.now(),
        )
        self.out("hierarchy: created" if created else "hierarchy: present")
        table = io.StringIO()
        init_cmd.summary(ca, table)
        for line in table.getvalue().splitlines():
            self.out("  " + line)
        ensure_la_aca_keys(settings, vault)
        key = hierarchy.ensure_management_api_key(settings, vault)
        if key is not None:
            assert self.state_dir is not None
            _write_private(self.state_dir / API_KEY_FILE, key + "\n")

    def _step_functions_resources(self, specs: list[Any]) -> dict[str, str]:
        """moto Lambda functions and the template's state machines; returns the names to resolve the template by.

        Functions are created (their ARNs are what the ASL's ``DefinitionSubstitutions`` name) and
        every state machine's ``Ref`` is its ARN; the result also holds the tables, bucket and
        parameters (``_physical_names``).
        """
        from .local.cloud import LOCAL_STAGE, _physical_names
        from .local.stepfunctions import LAMBDA_ROLE, create_functions, create_state_machines
        from .local.template import state_machines

        cloud = self._cloud
        names = _physical_names(cloud.kms_key_id, LOCAL_STAGE)
        machines = state_machines()
        if not machines:
            return names
        arns = create_functions(cloud.client("lambda"), cloud.client("iam"), {s.logical_id: s.handler for s in specs})
        names.update({logical_id: logical_id for logical_id in arns})  # Ref of a function: its name
        names.update({f"{logical_id}.Arn": arn for logical_id, arn in arns.items()})
        role = cloud.client("iam").get_role(RoleName=LAMBDA_ROLE)["Role"]["Arn"]
        created = create_state_machines(cloud.client("stepfunctions"), machines, names, role)
        names.update(created)  # Ref of a state machine: its ARN
        names.update({f"{logical_id}.Arn": arn for logical_id, arn in created.items()})
        for logical_id, arn in created.items():
            self.out(f"state machine {logical_id}: {arn}")
        return names

    def _run_tasks(self, handlers: dict[str, Any], specs: list[Any]) -> None:
        """State machine tasks run the real handlers; task functions (no API events) in two worker processes."""
        from .local.stepfunctions import install_lambda_patch, start_process_pool
        from .local.template import api_routes, state_machines

        if not state_machines():
            return
        install_lambda_patch(handlers)
        # Task functions are the CPU-bound fan-out work (expansion, PLVs, issuance): a worker
        # process per core. Started after the environment is final: workers copy it.
        routed = {route.function for route in api_routes()}
        start_process_pool([spec for spec in specs if spec.logical_id not in routed])

    def _resume(self, names: dict[str, str], settings: Any) -> None:
        """Restart the provisioning of requests a previous run left ACCEPTED or GENERATING."""
        from .local.stepfunctions import resume_provisioning

        machine = names.get("ProvisionStateMachine")
        if machine is None or not self._restored:
            return
        cloud = self._cloud
        resumed = resume_provisioning(
            cloud.client("dynamodb"), cloud.client("stepfunctions"), settings.ra_table, machine
        )
        if resumed:
            self.out(f"provisioning resumed: {len(resumed)} request(s)")

    def _snapshots(self) -> None:
        while not self._stopping.wait(self.snapshot_seconds):
            try:
                # An idle stack is not snapshot again: nothing read, nothing written (the file holds it).
                self.save(unless_unchanged=True)
            except Exception:
                log.exception("periodic state snapshot failed; the previous state file is intact")

    def save(self, *, unless_unchanged: bool = False) -> Path | None:
        """Write the state now (atomically); refused before the saved state is fully restored.

        ``unless_unchanged``: None, writing nothing, if no request that may change the state was
        answered since the last snapshot (``LocalCloud.save``); the shutdown always writes.
        """
        assert self.state_dir is not None
        if not self._restored:
            # A half-restored cloud (say, items back but not the secrets holding the CA keys) must
            # never overwrite the only copy of the state.
            raise RuntimeError("the state is not restored yet; the state file is left as it is")
        path: Path | None = self._cloud.save(self._settings, self.state_dir, unless_unchanged=unless_unchanged)
        return path

    def stop(self) -> None:
        """Stop the gateway, write the state, stop moto. Safe to call twice."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=30)
        if self._cloud is not None:
            try:
                if self._restored:
                    path = self.save()
                    self.out(f"state: saved to {path}")
            finally:
                self._cloud.stop()
        from .local.stepfunctions import uninstall_lambda_patch

        uninstall_lambda_patch()

    def wait(self) -> None:
        """Block until ``request_stop`` (signal handlers call it)."""
        while not self._stopping.is_set() and not self._stop_requested.wait(0.5):
            pass

    def request_stop(self) -> None:
        self._stop_requested.set()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def run(args: argparse.Namespace) -> int:
    """The ``serve`` sub-command: start, wait for Ctrl-C or SIGTERM, stop cleanly."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # moto's and the gateway's werkzeug servers log every request; the gateway logs its own routing.
    # The hierarchy's per-role log lines are summarised by the table printed after init.
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "scms_service.hierarchy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stack = LocalStack(
        host=args.host,
        port=args.port,
        moto_port=args.moto_port,
        state_dir=Path(args.state_dir) if args.state_dir else None,
        snapshot_seconds=args.snapshot_seconds,
        init=not args.no_init,
    )

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stack.request_stop()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stack.start()
        stack.wait()
        return 0
    except OSError as exc:
        print(f"scms serve: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
