"""``python -m bench.snapshot_cost [--items N] [--objects N] [--repeat N]``: the CPU of one state snapshot.

``scms serve`` writes its state every 30 s (``LocalCloud.save``) from the process that also serves moto,
so every CPU second of a snapshot is taken from the bottleneck of a burst (bench/results/README.md). This
starts the local cloud in this process (moto server, the template's tables and bucket), fills it with
RaTable items shaped like the shuffle pool's and the delivered certificates' (binary SPDUs, numbers, a
map, a string set), batch files in S3 and secrets, then times ``LocalCloud.snapshot`` and the file
write: process CPU (every thread: the moto server's request threads are this process's too) and wall.
Nothing here runs in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["fill", "main", "measure"]


def fill(cloud: Any, settings: Any, *, items: int, objects: int, secrets: int) -> None:
    """Put ``items`` RaTable items, ``objects`` S3 objects and ``secrets`` secrets into the local cloud."""
    dynamodb = cloud.client("dynamodb")
    rows: list[dict[str, Any]] = []
    for n in range(items):
        if n % 2:
            rows.append({"pk": {"S": f"POOL#{n % 16:02x}"}, "sk": {"S": f"{n:032x}"}, "spdu": {"B": os.urandom(250)},
                         "owner": {"S": os.urandom(8).hex()}, "i": {"N": str(n % 156)}, "j": {"N": str(n % 20)},
                         "expiresAt": {"N": "1900000000"}})  # fmt: skip
        else:
            rows.append({"pk": {"S": f"REQ#{n // 3120:016x}"}, "sk": {"S": f"CERT#{n // 20:05d}#{n % 20:03d}"},
                         "spdu": {"B": os.urandom(180)}, "acaRequestId": {"S": os.urandom(8).hex()},
                         "expiresAt": {"N": "1900000000"}, "days": {"M": {"20000": {"N": "3"}}},
                         "tags": {"SS": ["a", "b"]}})  # fmt: skip
    for start in range(0, len(rows), 25):
        batch = [{"PutRequest": {"Item": row}} for row in rows[start : start + 25]]
        pending: dict[str, Any] = {settings.ra_table: batch}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    s3 = cloud.client("s3")
    for n in range(objects):
        s3.put_object(Bucket=settings.artifacts_bucket, Key=f"batches/{n:016x}_{n % 156:x}.zip",
                      Body=os.urandom(4000), ContentType="application/zip")  # fmt: skip
    manager = cloud.client("secretsmanager")
    for n in range(secrets):
        manager.create_secret(Name=f"{settings.secret_prefix}bench/{n}", SecretString=os.urandom(32).hex())


def measure(*, items: int, objects: int, secrets: int, repeat: int) -> dict[str, Any]:
    """CPU and wall seconds of ``LocalCloud.snapshot`` and of writing the file, ``repeat`` times (medians)."""
    from scms_service import aws
    from scms_service.config import load_settings

    from scms_cli.local import state as local_state
    from scms_cli.local.cloud import LocalCloud, handler_environment

    cloud = LocalCloud()
    endpoint = cloud.start()
    try:
        kms_key_id = cloud.create_kms_key(None)
        os.environ.update(handler_environment(endpoint, kms_key_id))
        aws.reset_clients()
        settings = load_settings()
        cloud.create_resources(settings)
        fill(cloud, settings, items=items, objects=objects, secrets=secrets)
        cpu: list[float] = []
        wall: list[float] = []
        write_cpu: list[float] = []
        size = 0
        with tempfile.TemporaryDirectory(prefix="scms-snapshot-bench-") as tmp:
            for _ in range(repeat):
                c0, w0 = time.process_time(), time.perf_counter()
                data = cloud.snapshot(settings)
                c1, w1 = time.process_time(), time.perf_counter()
                path = local_state.write_state(Path(tmp), data)
                c2 = time.process_time()
                cpu.append(c1 - c0)
                wall.append(w1 - w0)
                write_cpu.append(c2 - c1)
                size = path.stat().st_size
        counted = sum(len(rows) for rows in data["dynamodb"].values())
        return {
            "items": counted,
            "objects": len(data["s3"]["objects"]),
            "secrets": len(data["secrets"]),
            "snapshot_cpu_s": round(statistics.median(cpu), 3),
            "snapshot_wall_s": round(statistics.median(wall), 3),
            "write_cpu_s": round(statistics.median(write_cpu), 3),
            "file_bytes": size,
            "runs": repeat,
        }
    finally:
        cloud.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot_cost", description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--objects", type=int, default=156)
    parser.add_argument("--secrets", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(measure(items=args.items, objects=args.objects, secrets=args.secrets, repeat=args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
