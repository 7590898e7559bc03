"""The embedded AWS stand-in: a moto server in this process, with the template's resources created in it.

Handlers reach it the way they reach AWS: boto3 honours ``AWS_ENDPOINT_URL``, which
``environment()`` points at the moto server. Nothing in the handlers knows it runs locally.
"""

from __future__ import annotations

import base64
import contextvars
import importlib
import json
import logging
import os
import threading
import types
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer
from scms_service.config import Settings

from . import state as local_state
from .moto_conditions import condition_parses_reused, item_validation_short_cut
from .moto_items import items_sized_in_one_pass
from .moto_request_ids import request_ids_rewritten_only_where_present
from .moto_update_expressions import update_expression_parses_reused, update_validation_walks_typed_once
from .template import TABLE_SETTINGS, create_tables, load_template, resolve

__all__ = [
    "CHANGES",
    "LOCAL_ACCOUNT",
    "LOCAL_REGION",
    "LocalCloud",
    "count_changes",
    "dynamodb_requests_one_at_a_time",
    "handler_environment",
    "moto_bucket_objects",
    "moto_table_rows",
]

log = logging.getLogger(__name__)

LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"  # moto's default account
LOCAL_STAGE = "local"
# The physical names of the template's resources locally: the Settings defaults.
_DEFAULTS = Settings()


def _physical_names(kms_key_id: str, stage: str) -> dict[str, str]:
    names: dict[str, str] = {"Stage": stage, "AWS::Region": LOCAL_REGION, "AWS::AccountId": LOCAL_ACCOUNT}
    names["AWS::Partition"] = "aws"
    names["AWS::URLSuffix"] = "amazonaws.com"
    for logical_id, setting in TABLE_SETTINGS.items():
        table = getattr(_DEFAULTS, setting)
        names[logical_id] = table
        names[f"{logical_id}.Arn"] = f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{table}"
    names["ArtifactsBucket"] = _DEFAULTS.artifacts_bucket
    names["ArtifactsBucket.Arn"] = f"arn:aws:s3:::{_DEFAULTS.artifacts_bucket}"
    names["KeysKmsKey"] = kms_key_id
    names["KeysKmsKey.Arn"] = f"arn:aws:kms:{LOCAL_REGION}:{LOCAL_ACCOUNT}:key/{kms_key_id}"
    return names


def handler_environment(endpoint: str, kms_key_id: str, stage: str = LOCAL_STAGE) -> dict[str, str]:
    """The environment the handlers see: the template's Globals variables resolved locally, plus the endpoint.

    Fake credentials and the region are set here; ``POWERTOOLS_TRACE_DISABLED`` because there is no
    X-Ray daemon locally.
    """
    template = load_template()
    names = _physical_names(kms_key_id, stage)
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    env = {key: str(resolve(value, names)) for key, value in variables.items()}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_REGION": LOCAL_REGION,
            "POWERTOOLS_TRACE_DISABLED": "1",
        }
    )
    return env


@dataclass
class LocalCloud:
    """A ``ThreadedMotoServer`` on ``host:port`` (0 = any free port) and the template's resources in it."""

    host: str = "127.0.0.1"
    port: int = 0
    _server: ThreadedMotoServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    kms_key_id: str = ""
    _secrets: Any = None  # the snapshot's Secrets Manager client, made once
    _saved_at: int | None = None  # CHANGES.count when the last written snapshot began

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalCloud: start() first")
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Start the moto server; configure Step Functions to execute the real ASL. Returns the endpoint."""
        _serialize_moto_dynamodb()
        count_changes()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        endpoint = self.endpoint
        # moto's ASL engine calls Lambda on localhost:$MOTO_PORT (platform.md), so it must be ours.
        os.environ["MOTO_PORT"] = endpoint.rsplit(":", 1)[1]
        body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
        request = urllib.request.Request(f"{endpoint}/moto-api/config", data=body, method="POST")  # noqa: S310
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our own local server)
            response.read()
        return endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on the moto server (explicit endpoint and fake credentials)."""
        return boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 (moto's fake credentials)
            region_name=LOCAL_REGION,
        ).client(service, endpoint_url=self.endpoint, config=Config(retries={"max_attempts": 2}))

    # --- resources ---

    def create_kms_key(self, saved: Mapping[str, Any] | None) -> str:
        """The KMS key for CA secrets: the saved one (same id, same material) or a new one."""
        kms = self.client("kms")
        if saved:
            _restore_moto_kms_key(saved)
            self.kms_key_id = str(saved["id"])
        else:
            self.kms_key_id = kms.create_key(Description="SCMS CA private keys (local)")["KeyMetadata"]["KeyId"]
        return self.kms_key_id

    def create_resources(self, settings: Settings) -> None:
        """Tables from the template and the artifacts bucket (existing ones are kept)."""
        create_tables(self.client("dynamodb"), settings)
        s3 = self.client("s3")
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if settings.artifacts_bucket not in existing:
            s3.create_bucket(Bucket=settings.artifacts_bucket)

    def snapshot(self, settings: Settings) -> dict[str, Any]:
        """The state file's contents; items and objects read from moto's backends in this process.

        A Scan of every table and a GET of every object through boto3 made this process (the moto
        server's) serve, parse and serialize all of them over HTTP: seconds of the one CPU that a
        burst waits on, every 30 s (bench/results/README.md). The moto server runs here, so items
        and objects are read directly (``moto_table_rows``, ``moto_bucket_objects``). The few secrets
        still go through the API, which hides the versions and deleted secrets as restore expects.
        """
        tables = [getattr(settings, f) for f in TABLE_SETTINGS.values()]
        with self._lock:
            if self._secrets is None:
                self._secrets = self.client("secretsmanager")
            return local_state.snapshot(
                dynamodb=None,
                s3=None,
                secretsmanager=self._secrets,
                tables=tables,
                bucket=settings.artifacts_bucket,
                kms_key=_moto_kms_key(self.kms_key_id) if self.kms_key_id else None,
                items=moto_table_rows(tables),
                objects=moto_bucket_objects(settings.artifacts_bucket),
            )

    def save(self, settings: Settings, state_dir: Path, *, unless_unchanged: bool = False) -> Path | None:
        """Snapshot and write the state file atomically; with ``unless_unchanged``, None (nothing read or
        written) when no request that may change the state has been answered since the last snapshot."""
        # Read before the snapshot: a change answered meanwhile counts after it, so the next save runs.
        mark = CHANGES.count
        if unless_unchanged and self._saved_at == mark:
            return None
        path = local_state.write_state(state_dir, self.snapshot(settings))
        self._saved_at = mark
        return path

    def restore(self, data: Mapping[str, Any]) -> None:
        local_state.restore(
            data, dynamodb=self.client("dynamodb"), s3=self.client("s3"), secretsmanager=self.client("secretsmanager")
        )


_DYNAMODB_LOCK = threading.RLock()


class _Changes:
    """How many moto requests that may change stored state were answered in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


CHANGES = _Changes()
# X-Amz-Target operations (DynamoDB, Secrets Manager, KMS, Step Functions) that change nothing stored.
_READ_OPERATIONS = ("Get", "BatchGet", "TransactGet", "List", "Describe", "Query", "Scan", "Decrypt", "Encrypt",
                    "GenerateDataKey")  # fmt: skip


def _may_change(environ: Mapping[str, Any]) -> bool:
    """Whether a moto request may change stored state: anything but a known read (conservative)."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return not target.rsplit(".", 1)[-1].startswith(_READ_OPERATIONS)
    return environ.get("REQUEST_METHOD") not in ("GET", "HEAD", "OPTIONS")  # S3 and the other REST APIs


def count_changes() -> Callable[[], None]:
    """The moto server counts the requests that may change stored state in ``CHANGES`` (idempotent); returns the undo.

    A periodic snapshot of an idle stack is then skipped (``LocalCloud.save(unless_unchanged=True)``).
    Counted after moto has answered, so a change is in the backends before its count moves: a
    snapshot that starts after the count has seen it, one that started before is followed by another.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    current = DomainDispatcherApplication.__call__
    if getattr(current, "_scms_undo", None) is not None:
        return current._scms_undo  # type: ignore[attr-defined,no-any-return]
    original = current

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            return original(self, environ, start_response)
        finally:
            if _may_change(environ):
                CHANGES.add()

    def undo() -> None:
        DomainDispatcherApplication.__call__ = original  # type: ignore[method-assign]

    __call__._scms_undo = undo  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]
    return undo


def _moto_attr(value: Any) -> Any:
    """One attribute of a moto item in the state file's form (``state._encode_attr`` of the client shape).

    moto keeps a binary as bytes, or as its base64 text inside maps and lists (as its own Scan
    answers it: ``DynamoType.to_regular_json``); both become the file's ``{"__b64__": text}``.
    """
    kind, inner = value.type, value.value
    if kind == "B":
        return {"B": local_state.b64_attr(inner)}
    if kind == "BS":
        return {"BS": [local_state.b64_attr(v) for v in inner]}
    if kind == "M":
        return {"M": {k: _moto_attr(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_moto_attr(v) for v in inner]}
    if kind in ("SS", "NS"):
        return {kind: list(inner)}
    return {kind: inner}


def moto_table_rows(tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every item of ``tables`` in the state file's form, read from this process's moto backend.

    Under the lock of ``_serialize_moto_dynamodb``: no DynamoDB request runs meanwhile, so the
    tables are read at one instant and every item is copied whole (moto changes items in place:
    an update's ADD to a set or SET of a map member). A table that does not exist is an error,
    as the Scan's ResourceNotFoundException was.
    """
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[LOCAL_ACCOUNT][LOCAL_REGION]
    rows: dict[str, list[dict[str, Any]]] = {}
    with _DYNAMODB_LOCK:
        for name in tables:
            table = backend.tables.get(name)
            if table is None:
                raise LookupError(f"table {name} does not exist in the local cloud")
            # moto 5.2.5: items[hash] is {range: Item} for a table with a range key, else the Item.
            partitions: Any = (
                table.items.values() if table.range_key_attr else [{None: i} for i in table.items.values()]
            )
            rows[name] = [
                {attr: _moto_attr(value) for attr, value in item.attrs.items()}
                for partition in partitions
                for item in partition.values()
            ]
    return rows


def moto_bucket_objects(bucket: str) -> list[dict[str, Any]]:
    """The current objects of ``bucket`` in the state file's form, read from this process's moto backend.

    What ``GetObject`` would answer for each listed key (its ``ContentType``, its user ``Metadata``:
    moto keeps them as the ``x-amz-meta-*`` headers, in lower case, as the API returns them) without
    a request per object. Keys are listed in one step (a dict copy, atomic under the GIL), then read
    one by one: a key deleted meanwhile, or a delete marker, is left out, as a listing after it would.
    """
    from moto.s3.models import FakeKey, s3_backends

    store = s3_backends[LOCAL_ACCOUNT]["aws"].buckets[bucket].keys
    objects: list[dict[str, Any]] = []
    for name in sorted(dict.keys(store)):
        key = store.get(name)
        if not isinstance(key, FakeKey):
            continue
        headers = dict(key.metadata)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "binary/octet-stream")
        metadata = {k[len(_USER_METADATA) :]: v for k, v in headers.items() if k.lower().startswith(_USER_METADATA)}
        objects.append(local_state.object_record(name, content_type, metadata, key.value))
    return objects


_USER_METADATA = "x-amz-meta-"


def _serialize_moto_dynamodb() -> None:
    """One DynamoDB request at a time in the moto server, and the local stack's moto patches (idempotent)."""
    dynamodb_requests_one_at_a_time()
    _backup_only_touched_items()
    query_reads_one_partition()
    items_serialized_as_json()
    moto_modules_listed_once()
    items_sized_in_one_pass()
    condition_parses_reused()
    item_validation_short_cut()
    request_ids_rewritten_only_where_present()
    update_expression_parses_reused()
    update_validation_walks_typed_once()


def dynamodb_requests_one_at_a_time() -> None:
    """moto answers one DynamoDB request at a time in this process (idempotent); DynamoDB's own atomicity.

    moto's DynamoDB backend is not thread-safe: TransactWriteItems deep-copies the tables it touches
    while another request thread puts items into them ("dictionary changed size during iteration",
    a 500), which two lanes' ACA batches in two worker processes do, and a transaction cancelled
    while another committed restores its own backup over the other's writes (a lost update, or an
    audit item left without its state change). DynamoDB serializes nothing, but each moto request
    takes milliseconds, so one lock costs little and keeps every write whole. The functional tests'
    in-process moto (tests/support/aws.py) takes the same lock for their concurrent requests.
    """
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "_scms_serialized", False):
        return
    unlocked = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return unlocked(self)

    call_action._scms_serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def _backup_only_touched_items() -> None:
    """moto's TransactWriteItems keeps only the items it touches for its rollback, not the whole table.

    moto 5.2.5 deep-copies every table a transaction names, once per item of the transaction, before
    it starts: a 100-item transaction on the ACA's answer table copies that table 100 times, so each
    ACA batch grows slower as the table fills (seconds per batch after a few thousand answers). The
    patched method hands moto the live table as its "backup", snapshots the items the transaction
    touches, and on any failure puts exactly those back. Requests are serialized (above), so nothing
    else changes the table meanwhile.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "_scms_touched_only", False):
        return
    models: Any = importlib.import_module("moto.dynamodb.models")
    real_copy = models.copy

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else real_copy.deepcopy(value, memo)

    models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=real_copy.copy)
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched: list[tuple[str, dict[str, Any], Any]] = []
        for entry in transact_items:
            for op in entry.values():
                table_name = op.get("TableName")
                if table_name not in self.tables:
                    continue
                table = self.tables[table_name]
                key = op.get("Key")
                if key is None and "Item" in op:
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None and table.range_key_attr in op["Item"]:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                if key is not None:
                    # A malformed key raises here as it would in moto's own call.
                    touched.append((table_name, key, real_copy.deepcopy(self.get_item(table_name, key))))
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, before in reversed(touched):
                if before is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before.to_json()["Attributes"])
            raise

    transact_write_items._scms_touched_only = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


# (table, hash key, (), leading) for a table query, (table, None, index hash key attributes, None) for an
# index query; leading = (range comparison, its values) when the items before the first match may be left out.
_Scope = tuple[Any, Any, tuple[str, ...], tuple[str, list[Any]] | None]
_PARTITION: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("scms_partition", default=None)
_QUERY_KEYWORDS = {"index_name", "consistent_read", "filter_expression", "hash_key_conditions", "range_key_conditions"}


def query_reads_one_partition() -> Callable[[], None]:
    """moto's table Query reads only the queried partition, not the whole table (idempotent); returns the undo.

    moto 5.2.5's ``Table.query`` without an index gathers its candidates from ``all_items()``: every
    item of the table, sorted, once per call, then keeps those of the queried hash key. RaTable
    holds devices, requests, the shuffle pool and every delivered certificate, so each ``draw``,
    ``finish`` and ``assemble`` query sorted tens of thousands of items (seconds per call). While a
    query on a table with a range key runs, ``all_items()`` of that table yields that partition's items
    only; everything after it (sort by range key, ExclusiveStartKey, Limit, size limit, filters,
    projection, Select COUNT) is moto's own code, so the answers are the same
    (tests/functional/test_local_moto_patches.py compares them with and without the patch).
    An index query (each batch download looks its device up in ``byEnrollmentCert``) gets the items
    that hold the index's hash key attributes, unsorted: moto skips the others itself and then sorts
    the candidates by index and table keys, a total order, so the input order does not matter.
    """
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_scms_one_partition", False):
        return Table.query._scms_undo  # type: ignore[attr-defined,no-any-return]
    original_query = Table.query
    original_all_items = Table.all_items

    def all_items(self: Any) -> list[Any]:
        scope = _PARTITION.get()
        if scope is None or scope[0] is not self:
            return original_all_items(self)
        if scope[1] is None:  # an index query: the items that have every hash key attribute of the index
            attrs = scope[2]
            partitions = self.items.values() if self.range_key_attr else [{None: i} for i in self.items.values()]
            if len(attrs) == 1:  # the usual index: one membership test per item (every download walks RaTable)
                (attr,) = attrs
                return [item for p in partitions for item in p.values() if attr in item.attrs]
            return [item for p in partitions for item in p.values() if all(a in item.attrs for a in attrs)]
        # One partition: moto's sort key (hash, range) is the range key alone here, and query sorts again
        # (a sorted list costs it one comparison per item). DynamoType orders by cast_value: computed once
        # per item here, not twice per comparison (a request's partition holds 3,120 certificates).
        items = sorted(self.items.get(scope[1], {}).values(), key=lambda item: item.range_key.cast_value)
        if scope[3] is not None:
            # A forward query with a key condition on the range key: moto's loop passes over the items
            # before the first match without effect (nothing appended, no limit reachable with no
            # result, ExclusiveStartKey only skips), so they are left out (a chunk's certificates sit
            # anywhere in the request's 3,120).
            comparison, values = scope[3]
            first = 0
            while first < len(items) and not items[first].range_key.compare(comparison, values):
                first += 1
            items = items[first:]
        return items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # index_name is the 8th positional parameter of moto 5.2.5's Table.query (7th after hash_key).
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name:
            index = {i.name: i for i in self.all_indexes()}.get(index_name)
            if index is None:
                return original_query(self, hash_key, *args, **kwargs)  # moto's own error
            attrs = tuple(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
            scope: _Scope = (self, None, attrs, None)
        elif not self.range_key_attr or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        else:
            # moto 5.2.5: query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
            # scan_index_forward, ...); the legacy KeyConditions filters come as extra keywords.
            comparison = args[0] if args else kwargs.get("range_comparison")
            values: list[Any] = args[1] if len(args) > 1 else kwargs.get("range_objs", [])
            forward = args[4] if len(args) > 4 else kwargs.get("scan_index_forward", True)
            conditions = kwargs.get("range_key_conditions") or []
            on_range_key = all(c[0] == self.range_key_attr for c in conditions)
            legacy = any(k not in _QUERY_KEYWORDS for k in kwargs if k not in ("range_comparison", "range_objs"))
            leading: tuple[str, list[Any]] | None = None
            if comparison and forward is not False and on_range_key and not legacy:
                leading = (comparison, values)
            scope = (self, hash_key, (), leading)
        token = _PARTITION.set(scope)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _PARTITION.reset(token)

    def undo() -> None:
        Table.query = original_query  # type: ignore[method-assign]
        Table.all_items = original_all_items  # type: ignore[method-assign]

    query._scms_one_partition = True  # type: ignore[attr-defined]
    query._scms_undo = undo  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    return undo


# Where each read operation's items sit in its result: they go through json.dumps, the rest through moto.
_ITEM_MEMBERS = {"Query": "Items", "Scan": "Items", "GetItem": "Item", "BatchGetItem": "Responses"}


def _wire(value: Any) -> Any:
    """An item (or items) as moto's result holds them, with every binary as the base64 text the wire carries."""
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def items_serialized_as_json() -> Callable[[], None]:
    """moto writes the items of Query, Scan, GetItem and BatchGetItem with json.dumps (idempotent); returns the undo.

    moto 5.2.5 serializes every response through its model-driven serializer, which looks each
    member of each AttributeValue up under several aliases: about 40% of a Query's time for items
    of a few attributes (a batch of 200 pool items, a chunk's 240 certificates). Its result already
    holds the items in their wire form (``{"S": str}``, ``{"B": bytes}``, ...), so only the binaries
    need base64: the patched result serializes everything but the items the moto way (status,
    headers, counts, LastEvaluatedKey, UnprocessedKeys, ConsumedCapacity) and adds the items as
    JSON. tests/functional/test_local_moto_patches.py compares the parsed bodies with moto's own.
    """
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoResult

    if getattr(DynamoResult.execute_result, "_scms_items_json", False):
        return DynamoResult.execute_result._scms_undo  # type: ignore[attr-defined,no-any-return]
    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        member = _ITEM_MEMBERS.get(context.operation_model.name)
        result = self.result
        if member is None or not isinstance(result, dict) or member not in result:
            return original(self, context)
        rest = ActionResult({k: v for k, v in result.items() if k != member})
        status, headers, body = rest.execute_result(context)
        document = json.loads(body) if body else {}
        document[member] = _wire(result[member])
        return status, headers, json.dumps(document, separators=(",", ":"))

    def undo() -> None:
        DynamoResult.execute_result = original  # type: ignore[method-assign]

    execute_result._scms_items_json = True  # type: ignore[attr-defined]
    execute_result._scms_undo = undo  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    return undo


def moto_modules_listed_once() -> Callable[[], None]:
    """The moto server lists its service packages once, not on every request (idempotent); returns the undo.

    moto 5.2.5's server finds a request's backend with ``backends.list_of_moto_modules()``, which
    lists moto's package directory and stats each of its ~180 entries, for every request: a visible
    share of the server's time when each task makes dozens of DynamoDB calls. The list is fixed
    for an installed moto, so the patched function yields the first listing again.
    """
    from moto import backends

    if getattr(backends.list_of_moto_modules, "_scms_undo", None) is not None:
        return backends.list_of_moto_modules._scms_undo  # type: ignore[attr-defined,no-any-return]
    original = backends.list_of_moto_modules
    listed: list[tuple[str, ...]] = []

    def list_of_moto_modules() -> Iterator[str]:
        if not listed:
            listed.append(tuple(original()))
        return iter(listed[0])

    def undo() -> None:
        backends.list_of_moto_modules = original

    list_of_moto_modules._scms_undo = undo  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules
    return undo


# moto's KMS API cannot create a key with a chosen id or material, and anything encrypted under the
# key names its id. The moto server runs in this process, so the local cloud reads and writes its
# KMS backend directly: the restored key has the same id and material, and old ciphertexts decrypt.
def _kms_backend() -> Any:
    from moto.kms.models import kms_backends

    return kms_backends[LOCAL_ACCOUNT][LOCAL_REGION]


def _moto_kms_key(key_id: str) -> dict[str, Any]:
    key = _kms_backend().keys[key_id]
    return {
        "id": key.id,
        "description": key.description,
        "material": base64.b64encode(key.key_material).decode("ascii"),
    }


def _restore_moto_kms_key(saved: Mapping[str, Any]) -> None:
    backend = _kms_backend()
    if saved["id"] in backend.keys:
        return
    key = backend.create_key(
        policy=None,
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        description=saved.get("description", ""),
        tags=None,
    )
    del backend.keys[key.id]
    key.id = saved["id"]
    key.arn = f"arn:aws:kms:{LOCAL_REGION}:{LOCAL_ACCOUNT}:key/{key.id}"
    key.key_material = base64.b64decode(saved["material"])
    backend.keys[key.id] = key
