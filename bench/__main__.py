"""``python -m bench [--quick] [--only micro|provision|devices] [--devices N] [--json FILE]``: one report.

The results also go to ``bench/results/`` (``latest.*`` and the README's Performance section; ``quick.*``
for ``--quick``), with the machine, versions, git revision and date (``bench/record.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import codec_bench, openssl_ref, provision, record, report
from .aca_core import (
    STEP_NAMES,
    VARIANTS,
    AcaCore,
    AcaUseCase,
    Variant,
    asn1_share,
    cpu_fixed_base_us,
    ec_ops,
    use_case_ops,
)
from .scaling import measure_scaling
from .timing import Timing, measure, progress

SCALING_VARIANT = Variant("explicit", "compact-unified")
"""performance.md §6's "explicit unified" (cocoon-key encryption, no inner signature)."""


@dataclass(frozen=True)
class Config:
    """Iteration counts; ``quick`` trades precision for a run of a few seconds."""

    number: int = 200
    repeat: int = 5
    cold_repeat: int = 3
    # One 3-year burst (156 x 20): enough work per worker that the pool's fixed cost (dispatch, wake-up) stays
    # under 1 %. With 400 the same pool showed 1.66-1.72x, with 2,000 or more 1.96-1.98x (2026-11-25).
    scaling_certificates: int = 3120
    # The ACA use case (scms_aca.issue.issue_batch): a weekly batch of 20, and the 3-year burst
    # (156 x 20 = 3,120 certificates) split over 2 workers, i.e. 1,560 requests in one batch.
    use_case_batch: int = 20
    use_case_burst: int = 3120 // 2
    openssl: bool = True
    openssl_seconds: int = 1
    openssl_multi: bool = True
    scaling: bool = True

    @classmethod
    def quick(cls) -> Config:
        """Fewer iterations, no ``openssl speed -multi`` run."""
        return cls(
            number=30, repeat=3, cold_repeat=1, scaling_certificates=100, use_case_burst=156, openssl_multi=False
        )


def run(config: Config) -> dict[str, Any]:
    """Run every benchmark and return the results as JSON-ready data."""
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "config": config.__dict__,
    }
    if config.openssl:
        progress(f"openssl speed -seconds {config.openssl_seconds} ecdsap256 ecdhp256")
        speed = openssl_ref.run_openssl_speed(seconds=config.openssl_seconds)
        results["openssl"] = speed.to_json()
        if config.openssl_multi and speed.ok:
            progress("openssl speed -multi 2")
            results["openssl_multi2"] = openssl_ref.run_openssl_speed(seconds=config.openssl_seconds, multi=2).to_json()
    else:
        results["openssl"] = openssl_ref.OpenSSLSpeed(error="skipped (--no-openssl)").to_json()

    progress("cryptography primitives from Python")
    primitives = openssl_ref.python_primitives(number=config.number, repeat=config.repeat)
    results["primitives"] = {key: t.to_json() for key, t in primitives.items()}

    progress("codec cold start (fresh interpreters)")
    results["cold_start"] = codec_bench.cold_start(repeat=config.cold_repeat)
    progress("codec decode/encode")
    results["codec"] = [t.to_json() for t in codec_bench.sample_timings(number=config.number, repeat=config.repeat)]

    results["aca"] = [_aca_variant(v, config, primitives, results["openssl"]) for v in VARIANTS]

    if config.scaling:
        progress(f"scaling: {SCALING_VARIANT.name}, 1 process against a fork pool of 2")
        results["scaling"] = measure_scaling(
            SCALING_VARIANT, certificates=config.scaling_certificates, repeat=config.repeat
        ).to_json()
    return results


def _aca_variant(
    variant: Variant, config: Config, primitives: dict[str, Timing], openssl: dict[str, Any]
) -> dict[str, Any]:
    progress(f"ACA core {variant.name}")
    core = AcaCore(variant)
    counter = iter(range(1 << 31))
    total = measure(
        variant.name, lambda: core.issue(7, next(counter) & 0xFFFF), number=config.number, repeat=config.repeat
    )
    # Per-step medians come from separately instrumented passes, so the total above carries no timer cost.
    per_step = [core.issue_steps(7, j) for j in range(config.number * config.repeat)]
    steps = {name: statistics.median(s[k] for s in per_step) * 1e6 for k, name in enumerate(STEP_NAMES)}
    share = asn1_share(core, certificates=config.number)
    ops = ec_ops(variant)
    budget = None
    if openssl.get("sign_us") and openssl.get("ecdh_us"):
        budget = ops.budget_us(
            fixed_base_us=primitives["fixed_base"].us, sign_us=openssl["sign_us"], ecdh_us=openssl["ecdh_us"]
        )
    return {
        **_core_result(variant, core, total, steps, share, ops, budget),
        "use_case": _use_case(variant, config, primitives, openssl),
    }


def _use_case(
    variant: Variant, config: Config, primitives: dict[str, Timing], openssl: dict[str, Any]
) -> dict[str, Any]:
    """µs per certificate of scms_aca.issue.issue_batch (the ACA's real path) for a batch of 20 and a burst batch."""
    progress(f"ACA use case {variant.name}: batches of {config.use_case_batch} and {config.use_case_burst}")
    use_case = AcaUseCase(variant)
    small = use_case.requests(config.use_case_batch)
    burst = use_case.requests(config.use_case_burst, i=2)
    rounds = max(1, config.number * config.repeat // config.use_case_batch)
    per_cert = use_case.cpu_us_per_cert(small, repeat=rounds)
    burst_per_cert = use_case.cpu_us_per_cert(burst, repeat=max(1, min(config.repeat, 3)))
    ops = use_case_ops(variant)
    budget = None
    verify_per_s = openssl.get("verify_per_s")
    if openssl.get("sign_us") and openssl.get("ecdh_us") and verify_per_s:
        budget = ops.budget_us(
            fixed_base_us=cpu_fixed_base_us(),
            sign_us=openssl["sign_us"],
            ecdh_us=openssl["ecdh_us"],
            verify_us=1e6 * openssl.get("multi", 1) / verify_per_s,
        )
    return {
        "batch": len(small),
        "us_per_cert": per_cert,
        "burst_batch": len(burst),
        "burst_us_per_cert": burst_per_cert,
        "ec_ops": ops.__dict__,
        "c_budget_us": budget,
        "ratio": None if budget is None else per_cert / budget,
        "burst_ratio": None if budget is None else burst_per_cert / budget,
    }


def _core_result(
    variant: Variant, core: AcaCore, total: Timing, steps: dict[str, float], share: Any, ops: Any, budget: float | None
) -> dict[str, Any]:
    return {
        "variant": variant.name,
        "response": variant.response_form,
        "complete": not core.missing,
        "missing": list(core.missing),
        "timing": total.to_json(),
        "steps_us": steps,
        "asn1": {"calls_per_cert": share.calls_per_cert, "us_per_cert": share.asn1_us_per_cert, "share": share.share},
        "ec_ops": ops.__dict__,
        "c_budget_us": budget,
        "ratio": None if budget is None else total.us / budget,
    }


def render(results: dict[str, Any]) -> str:
    """The report: OpenSSL reference, primitives, codec, ACA core per variant, scaling."""
    out = [
        f"OpenSCMS benchmarks — Python {results['python']} on {results['machine']}; "
        "µs are medians of repeats; ratio = Python / C-level (1.00x = OpenSSL's speed)"
    ]
    speed = results["openssl"]
    out.append(report.section("OpenSSL reference (openssl speed, same run, one core)"))
    if speed["error"]:
        out.append(f"OpenSSL figures unavailable: {speed['error']}. No ratios are printed.")
    else:
        out.append(f"{' '.join(speed['command'])}  (OpenSSL {speed['version']})")
    prims = results["primitives"]
    sign_us, ecdh_us = prims["sign"]["us"], prims["ecdh"]["us"]
    rows = [
        ["ECDSA P-256 sign", sign_us, speed["sign_us"], report.ratio(sign_us, speed["sign_us"])],
        ["ECDH P-256", ecdh_us, speed["ecdh_us"], report.ratio(ecdh_us, speed["ecdh_us"])],
        ["fixed-base k·G (generate_private_key; stand-in)", prims["fixed_base"]["us"], None, None],
    ]
    out.append(report.table(["operation", "cryptography from Python µs", "openssl speed µs", "ratio"], rows))
    if multi := results.get("openssl_multi2"):
        if multi["error"] is None and speed["sign_per_s"]:
            out.append(
                f"openssl -multi 2: {multi['sign_per_s']:,.0f} sign/s "
                f"({multi['sign_per_s'] / speed['sign_per_s']:.2f}x one process), "
                f"{multi['ecdh_per_s']:,.0f} ECDH/s ({multi['ecdh_per_s'] / speed['ecdh_per_s']:.2f}x)"
            )

    cold = results["cold_start"]
    out.append(report.section("Codec: ASN.1 compile and import (fresh interpreter)"))
    out.append(
        report.table(
            ["what", "ms"],
            [
                ["python -c pass (interpreter start, for scale)", cold["interpreter_start_ms"]],
                ["import scms_codec", cold["import_ms"]],
                ["first encode (compiles the ASN.1 modules)", cold["first_encode_ms"]],
                ["second encode", cold["second_encode_us"] / 1000],
            ],
        )
    )
    out.append(report.section("Codec: strict decode / encode"))
    out.append(
        report.table(["operation", "µs/op", "ops/s"], [[t["name"], t["us"], t["per_second"]] for t in results["codec"]])
    )

    out.append(report.section("ACA per-certificate core (one core)"))
    rows = []
    for r in results["aca"]:
        ops = r["ec_ops"]
        rows.append(
            [
                r["variant"] + ("" if r["complete"] else " (partial*)"),
                r["response"],
                r["timing"]["us"],
                r["timing"]["per_second"],
                f"{ops['fixed_base']}kG+{ops['sign']}S+{ops['ecdh']}DH",
                r["c_budget_us"],
                report.per_second(r["c_budget_us"]),
                report.ratio(r["timing"]["us"], r["c_budget_us"]),
            ]
        )
    out.append(
        report.table(
            [
                "variant",
                "response",
                "Python µs/cert",
                "certs/s/core",
                "C-level EC ops",
                "C budget µs/cert",
                "C certs/s",
                "ratio",
            ],
            rows,
        )
    )
    out.append(
        "C budget = kG x fixed-base (Python generate_private_key, stand-in) + S x openssl sign "
        "+ DH x openssl ECDH (performance.md §6); symmetric work and encoding are not in it."
    )
    out.append(report.section("ACA use case: scms_aca.issue.issue_batch per certificate (one core)"))
    rows = []
    for r in results["aca"]:
        u = r["use_case"]
        ops = u["ec_ops"]
        label = f"{ops['fixed_base']}kG+{ops['sign']}S+{ops['ecdh']}DH+{ops['verify']}V"
        rows.append(
            [
                r["variant"],
                r["response"],
                u["us_per_cert"],
                report.per_second(u["us_per_cert"]),
                u["burst_us_per_cert"],
                label,
                u["c_budget_us"],
                report.ratio(u["us_per_cert"], u["c_budget_us"]),
                report.ratio(u["burst_us_per_cert"], u["c_budget_us"]),
            ]
        )
    batch = results["aca"][0]["use_case"]["batch"] if results["aca"] else 0
    burst = results["aca"][0]["use_case"]["burst_batch"] if results["aca"] else 0
    out.append(
        report.table(
            [
                "variant",
                "response",
                f"CPU µs/cert (x{batch})",
                "certs/s/core",
                f"CPU µs/cert (x{burst})",
                "C-level EC ops",
                "C budget µs/cert",
                f"ratio x{batch}",
                f"ratio x{burst}",
            ],
            rows,
        )
    )
    out.append(
        "The real ACA path: RA-signed RaAcaCertRequestSpdus in (built untimed by a simulated RA), "
        "ACA-signed AcaRaCertResponseSpdus out; V = openssl ECDSA verify (the RA's signature). "
        "CPU time, as openssl speed counts it (k·G: generate_private_key in CPU time), so other load on the "
        "machine does not skew the ratio. "
        "Ratio 2.00x = half the C-level speed (issue #5 §7)."
    )
    out.append(report.section("ACA core by step (µs/cert)"))
    out.append(
        report.table(
            ["variant", *STEP_NAMES], [[r["variant"], *(r["steps_us"][s] for s in STEP_NAMES)] for r in results["aca"]]
        )
    )
    out.append(report.section("ACA core: time inside asn1tools encode/decode (performance.md §4)"))
    out.append(
        report.table(
            ["variant", "asn1tools calls/cert", "asn1tools µs/cert", "share of the cert"],
            [
                [
                    r["variant"],
                    r["asn1"]["calls_per_cert"],
                    r["asn1"]["us_per_cert"],
                    f"{100 * r['asn1']['share']:.0f}%",
                ]
                for r in results["aca"]
            ],
        )
    )
    partial = [r for r in results["aca"] if not r["complete"]]
    for r in partial:
        for reason in r["missing"]:
            out.append(f"* {r['variant']}: {reason}")

    if scaling := results.get("scaling"):
        out.append(report.section("Per-core scaling (fork pool)"))
        multi = results.get("openssl_multi2") or {}
        single = results["openssl"]
        openssl_speedup = None
        if multi.get("sign_per_s") and single.get("sign_per_s"):
            openssl_speedup = f"{multi['sign_per_s'] / single['sign_per_s']:.2f}x"
        out.append(
            report.table(
                [
                    "variant",
                    "certs",
                    "1 process certs/s",
                    f"{scaling['workers']} processes certs/s",
                    "speed-up",
                    "openssl -multi 2 sign speed-up",
                ],
                [
                    [
                        scaling["variant"],
                        scaling["certificates"],
                        scaling["one_process_certs_per_s"],
                        scaling["pool_certs_per_s"],
                        f"{scaling['speedup']:.2f}x",
                        openssl_speedup,
                    ]
                ],
            )
        )
        out.append("A speed-up well under 2x on both sides means the machine's other load took the second core.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run, print the report, and write bench/results/ (and the JSON file if asked)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a rough figure in seconds)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also save every result as JSON")
    parser.add_argument("--no-openssl", action="store_true", help="skip openssl speed (no ratios)")
    parser.add_argument(
        "--only",
        choices=["micro", "provision", "devices"],
        help="micro: codec, ACA core and scaling; provision: the local stack end to end; devices: only the "
        "N devices enrolling and provisioning at once (no burst; writes only --json FILE)",
    )
    parser.add_argument("--devices", type=_positive, metavar="N", help="devices requesting at once (default 100)")
    parser.add_argument("--device-periods", type=_positive, metavar="N", help="i-periods per device (default 1)")
    parser.add_argument("--periods", type=_positive, metavar="N", help="i-periods of the burst (default 156)")
    parser.add_argument("--runs", type=_positive, metavar="N", help="bursts per variant (default 3)")
    parser.add_argument("--explicit-only", action="store_true", help="burst with explicit certificates only")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results/ nor the README")
    parser.add_argument(
        "--profile-stack",
        action="store_true",
        help="cProfile scms serve's main process and print its CPU by package (implies --no-results)",
    )
    parser.add_argument(
        "--render-only",
        type=Path,
        metavar="JSON",
        help="measure nothing: write latest.md and the README section from a saved results file",
    )
    args = parser.parse_args(argv)
    if args.only == "devices":
        args.no_results = True  # a partial run never replaces latest.*: save it with --json
    if args.profile_stack:
        args.no_results = True  # a profiled stack runs slower: its figures never replace the measured ones
    if args.render_only:
        for path in record.render_saved(args.render_only):
            progress(f"wrote {path.relative_to(record.REPO)}")
        return 0
    environment = record.environment()
    results: dict[str, Any] = {}
    if args.only not in ("provision", "devices"):
        config = Config.quick() if args.quick else Config()
        if args.no_openssl:
            config = Config(**{**config.__dict__, "openssl": False})
        results = run(config)
        print(render(results))
    if args.only != "micro":
        partial = record.RESULTS_DIR / "partial.json"

        def checkpoint(so_far: dict[str, Any]) -> None:
            # A long run that dies later still leaves what it measured (not committed: .gitignore).
            report.save_json(partial, {**results, "provisioning": so_far, "environment": environment})

        provisioning = provision.run(_provision_config(args), None if args.no_results else checkpoint)
        provisioning["findings"] = provision.findings(provisioning)
        results["provisioning"] = provisioning
        print(report.render_provision(results))
        for label, text in provisioning.get("profiles", {}).items():
            print(report.section(f"Profile of scms serve's main process ({label})"))
            print(text)
            # Shares of CPU, not timings: kept beside (never in) latest.json.
            saved = record.RESULTS_DIR / f"profile-{label}.txt"
            saved.write_text(f"python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}\n\n{text}")
            progress(f"wrote {saved.relative_to(record.REPO)}")
    results["environment"] = environment
    if args.json:
        report.save_json(args.json, results)
        progress(f"results saved to {args.json}")
    if not args.no_results:
        for path in record.write_results(results, quick=args.quick):
            progress(f"wrote {path.relative_to(record.REPO)}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer")
    return value


def _provision_config(args: argparse.Namespace) -> provision.ProvisionConfig:
    config = provision.ProvisionConfig.quick() if args.quick else provision.ProvisionConfig()
    changes: dict[str, Any] = {}
    for name in ("devices", "device_periods", "periods", "runs"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.profile_stack:
        changes["profile_stack"] = True
    if args.only == "devices":
        changes["burst"] = False
    if args.explicit_only:
        changes["variants"] = tuple(v for v in config.variants if v[1] == "explicit")
    return dataclasses.replace(config, **changes)


if __name__ == "__main__":
    raise SystemExit(main())
