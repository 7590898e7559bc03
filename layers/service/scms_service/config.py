"""Settings read once at cold start into a frozen object (style.md 14): argument > environment > default.

Every key and default is listed in docs/params.md; domain code receives a ``Settings`` and never
reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Settings", "load_settings"]


@dataclass(frozen=True)
class Settings:
    """Deployment settings and the 1609.2.1 clause 4.3 parameters this SCMS enforces."""

    # Resources (names come from the SAM template's outputs / environment).
    ra_table: str = "scms-ra"
    eca_table: str = "scms-eca"
    ca_table: str = "scms-ca"
    aca_table: str = "scms-aca"
    ma_table: str = "scms-ma"
    crl_table: str = "scms-crl"
    artifacts_bucket: str = "scms-artifacts"
    secret_prefix: str = "scms/"  # noqa: S105 (a name, not a secret)
    management_api_key_secret: str = "scms/management-api-key"  # noqa: S105 (a name, not a secret)
    kms_key_id: str = "alias/scms-keys"
    # scmsV3-error (protocol.md §2.1): "fine" sends the Table 8 header, "coarse" a bare 500.
    error_mode: str = "fine"
    # ECA parameters (protocol.md §5.4), seconds.
    eca_max_age: int = 1000
    eca_max_wait: int = 100
    eca_max_reqs: int = 100
    eca_min_wait: int = 0
    clock_skew: int = 5
    # download-maxAge (protocol.md §5.3): seconds a download request's generationTime may be old (400-74).
    download_max_age: int = 1000
    # download-maxReqs per enrollment certificate per 7x24 h (400-75) and download-minWait between two
    # download requests of one enrollment certificate (400-76); 0 = no minimum.
    download_max_reqs: int = 10000
    download_min_wait: int = 0
    # Enrollment certificate policy.
    enrollment_validity_years: int = 6
    allow_reenrollment: bool = False
    # ECA: accept requests without canonicalId, the device found by its requested key's canonical id.
    allow_self_keyed_enrollment: bool = False
    # ECA: seconds a PENDING request claim is held before a retry of the same bytes may take it over.
    eca_claim_lease: int = 60
    # ACA: seconds an answered RaAcaCertRequestSpdu stays in AcaTable, so that a retry gets the same response.
    aca_response_ttl: int = 30 * 24 * 3600
    # CA hierarchy (`scms init`), docs/architecture.md "Hierarchy": validity in years, nested
    # root ⊃ ICA ⊃ the other CAs (a child is cut to end with its issuer). Region: comma-separated
    # UN country ids for the CA certificates, empty for none (no restriction).
    root_validity_years: int = 40
    ica_validity_years: int = 30
    ca_validity_years: int = 15
    elector_validity_years: int = 40
    ca_region_countries: str = ""
    ma_relevant_psids: str = "32"
    # CRL series (protocol.md §3.5): crl_series is the linked CRL series that pseudonym (butterfly)
    # certificates name; crl_hash_series the hash CRL series of enrollment and non-butterfly
    # certificates. crl_interval: seconds from a CRL's issueDate to its nextCrl.
    crl_series: int = 1
    crl_hash_series: int = 2
    crl_interval: int = 7 * 86400
    # Linkage authorities (docs/architecture.md "Linkage authorities"): this LA function's LaId (4 hex
    # digits; 0001 = la1, 0002 = la2), each LA's seed table, and the most PLVs one request may ask for
    # (156 weekly i-periods x 20 certificates = three years).
    la_id: str = "0001"
    la1_table: str = "scms-la1"
    la2_table: str = "scms-la2"
    la_max_plvs: int = 3120
    # i-periods (protocol.md §5.2, scms_service.iperiod): length and overlap in seconds, the epoch as
    # Time32 (CAMP: i = 0 at 2015-01-06 04:00 EST = 347 619 603), certificates per period (jmax).
    i_period_length: int = 604800
    i_period_epoch: int = 347_619_603
    i_period_init: int = 0
    time_overlap: int = 3600
    certs_per_period: int = 20
    # RA authorization requests (protocol.md §5.3, §5.4), seconds; preload = three 1609.2 years.
    ra_max_preload_time: int = 3 * 31_556_952
    ra_max_age: int = 1000
    ra_max_gen_delay: int = 4000
    ra_max_reqs: int = 100
    ra_min_wait: int = 0
    # ra-minWait of successor enrollment requests (protocol.md §3.4 step 2, §5.4: its own value), per device.
    ra_successor_min_wait: int = 0
    ra_butterfly_types: str = "original,unified,compactUnified"
    # Provisioning pipeline (docs/architecture.md "Provisioning pipeline"): the state machine's ARN,
    # certificates per chunk (one LA call and one expand task), parallel drain lanes, how many
    # finish rounds (about one second each) a request may wait for its pooled requests, shuffle
    # pool shards, seconds a drawn shard stays leased, most requests per ACA task.
    provision_state_machine: str = ""
    provision_chunk_certs: int = 240
    provision_lanes: int = 2
    provision_max_rounds: int = 600
    pool_shards: int = 16
    pool_lease_seconds: int = 120
    aca_batch_size: int = 200
    # Successor enrollment: the ECA task function the RA invokes (its name; empty = the ECA in-process).
    eca_task_function: str = ""
    # Revocation (docs/architecture.md "Revocation and trust distribution"): the functions the MA
    # invokes (names; empty = the same code in-process): ACA lookup, RA batch tasks, LA1, LA2, CRLG.
    aca_function: str = ""
    ra_task_function: str = ""
    la1_function: str = ""
    la2_function: str = ""
    crlg_function: str = ""
    # Local-only: where `make serve` keeps state between runs (not used in Lambda).
    state_dir: str = ".scms"


_ENV_PREFIX = "SCMS_"


MIN_CRL_INTERVAL = 3 * 3600
"""The shortest ``crl_interval`` a stack accepts: the CRL generator's schedule is hourly (infra/template.yaml)
and it issues a new CRL once less than half the interval is left, so a shorter interval would let a CRL's
nextCrl pass between two runs (one missed run included)."""


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``overrides``, then ``SCMS_<FIELD>`` environment variables, then the defaults."""
    source = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name in overrides:
            values[f.name] = overrides[f.name]
            continue
        raw = source.get(_ENV_PREFIX + f.name.upper())
        if raw is None:
            continue
        values[f.name] = _parse(f.name, raw, f.type)
    unknown = set(overrides) - {f.name for f in fields(Settings)}
    if unknown:
        raise TypeError(f"load_settings: unknown setting(s) {sorted(unknown)}")
    settings = Settings(**values)
    if settings.error_mode not in ("fine", "coarse"):
        raise ValueError(f"{_ENV_PREFIX}ERROR_MODE: expected fine or coarse, got {settings.error_mode!r}")
    if settings.crl_interval < MIN_CRL_INTERVAL:
        raise ValueError(
            f"{_ENV_PREFIX}CRL_INTERVAL: at least {MIN_CRL_INTERVAL} seconds (the CRL generator runs hourly and "
            f"reissues a CRL when half its interval is left), got {settings.crl_interval}"
        )
    return settings


def _parse(name: str, raw: str, kind: Any) -> Any:
    kind = str(kind)
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{_ENV_PREFIX}{name.upper()}: expected an integer, got {raw!r}") from None
    if kind == "bool":
        if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
            raise ValueError(f"{_ENV_PREFIX}{name.upper()}: expected true or false, got {raw!r}")
        return raw.lower() in {"1", "true", "yes"}
    return raw
