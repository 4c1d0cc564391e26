"""``pneumonet calibrate``: adapt a model to a site's labelled films (threshold and calibration)."""

from __future__ import annotations

import sys

from pneumonet_cli.common import add_derived_package_arguments, write_json
from pneumonet_core.models.threshold import rule_argument


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate", help="fit a model's threshold and probability calibration to a site's labelled films",
        description="Classify DIR (NORMAL/ and PNEUMONIA/, at least 50 readable films per class unless --force), "
        "refit the probability calibration and choose the operating threshold by --rule on the calibrated scale, "
        "and write a new package (--out) whose card records the site data, the rule and the figures before and "
        "after, with 95%% intervals of sensitivity and specificity bootstrapped by patient. The weights and the "
        "input package are untouched, and the new package is not made active (`pneumonet models use OUT` does).",
    )
    add_derived_package_arguments(p, "the package to calibrate", "the calibrated package to write")
    p.add_argument("--rule", default="youden", type=rule_argument,
                   help="threshold rule: youden, sensitivity:0.95 or specificity:0.90 (default youden)")
    p.add_argument("--force", action="store_true",
                   help="calibrate on fewer than 50 films per class (down to 10): the threshold is then uncertain")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def _line(name: str, m: dict) -> str:
    def f(key):
        return "n/a" if m.get(key) is None else f"{m[key]:.4f}"

    def ci(key):
        low, high = m.get(f"{key}_ci") or (None, None)
        return "" if low is None else f" [{low:.3f}-{high:.3f}]"

    threshold = "" if m.get("threshold") is None else f" at threshold {m['threshold']:.4f}"
    return (f"  {name:22s} AUC {f('roc_auc')}  accuracy {f('accuracy')}  sensitivity {f('sensitivity')}"
            f"{ci('sensitivity')}  specificity {f('specificity')}{ci('specificity')}  ECE {f('ece')}{threshold}")


def run(args) -> int:
    from pneumonet_core.evaluation.site_calibration import calibrate_package

    report = calibrate_package(args.data_dir, args.model, args.out, args.rule, force=args.force)
    for err in report["errors"]:
        print(f"pneumonet calibrate: skipped {err}", file=sys.stderr)
    for warning in report["warnings"]:
        print(f"pneumonet calibrate: warning: {warning}", file=sys.stderr)
    if args.json:
        write_json(report)
        return 0
    site, cal = report["site"], report["calibration"]
    print(f"calibrated on {site['data_set']}: {site['images']} films of {site['patients']} patients "
          f"({site['per_class']})")
    print(f"  calibration: {cal['method']}; threshold {report['threshold']:.4f} ({report['rule']})")
    if report.get("uncertain_band"):
        low, high = report["uncertain_band"]
        print(f"  undetermined: viral probability from {low:.2f} to {high:.2f} (the threshold +- 0.15)")
    print(_line("before", report["before"]))
    print(_line("after (these films)", report["after"]))
    print(_line("after (cross-fitted)", report["after_cross_fitted"]))
    print("  (sensitivity and specificity: [95% interval, bootstrapped by patient])")
    print(report["trade"])
    action = "subtype" if report.get("uncertain_band") else "use"
    role = "the bacterial/viral model" if action == "subtype" else "the active model"
    print(f"wrote {report['out']} (hash {report['hash'][:12]}); not in use: `pneumonet models {action} {report['out']}` "
          f"makes it {role}")
    return 0
