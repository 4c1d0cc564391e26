"""``pneumonet guard``: fit a package's out-of-distribution guard, and check what it flags.

``guard fit DIR --model IN --out OUT`` fits the guard on the films of a labelled folder
(for the bundled models: their training folder) and writes a new package; the input
package is untouched. ``guard check PATH...`` runs the guard over files and folders and
reports how many scans it flags, and why.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pneumonet_cli.common import (
    add_derived_package_arguments,
    add_model_argument,
    load_classifier,
    model_summary,
    write_json,
)
from pneumonet_core.printable import printable


def register(subparsers) -> None:
    from pneumonet_core.ood.guard import DEFAULT_PERCENTILE
    from pneumonet_core.ood.population_fitting import DEFAULT_POPULATION_PERCENTILE
    from pneumonet_core.ood.reference import DEFAULT_COMPONENTS

    p = subparsers.add_parser(
        "guard", help="fit or check the out-of-distribution guard (is a scan a chest X-ray the model knows?)",
        description="The guard flags scans that are not chest X-rays this model knows (photos, documents, CT/MR "
        "slices, other body parts): the distance of a mid-network feature map from the fitting films, image statistics and "
        "DICOM tags. A flagged scan is still a result (exit 0), shown as withheld.",
    )
    commands = p.add_subparsers(dest="guard_command", metavar="{fit,check}")
    fit = commands.add_parser(
        "fit", help="fit the guard of a package on a folder of chest films and write a new package",
        description="Fit the guard on every readable film under DIR/NORMAL and DIR/PNEUMONIA (for the bundled "
        "models, their training folder): the feature reference (PCA + Ledoit-Wolf Mahalanobis on the channel "
        "means of the architecture's guard layer, a feature map a quarter of the way down the network), its threshold "
        "(the --percentile-th percentile of the films' own distances) and the image "
        "statistics' limits. Writes --out; the --model package is untouched.",
    )
    add_derived_package_arguments(fit, "the package to fit the guard of", "the package with the fitted guard to write")
    fit.add_argument("--percentile", type=float, default=DEFAULT_PERCENTILE,
                     help=f"flag threshold: this percentile of the fitting films' distances (default "
                     f"{DEFAULT_PERCENTILE})")
    fit.add_argument("--components", type=int, default=DEFAULT_COMPONENTS,
                     help=f"principal components of the feature reference (default {DEFAULT_COMPONENTS})")
    fit.add_argument("--adults", type=Path, action="append", metavar="DIR", default=None,
                     help="a folder of adult chest films (repeatable; each sub-folder holding films is a site) for the "
                     "population check: an adult-like film is withheld. Without it only the orientation and header "
                     "age checks are fitted. The card records the leave-one-site-out detection rate")
    fit.add_argument("--population-percentile", type=float, default=DEFAULT_POPULATION_PERCENTILE,
                     help="adult-like threshold: this percentile of the fitting films' cross-fitted scores (default "
                     f"{DEFAULT_POPULATION_PERCENTILE})")
    fit.add_argument("--batch-size", type=int, default=16)
    fit.add_argument("--json", action="store_true", help="print the report as JSON")
    fit.set_defaults(func=run_fit)
    check = commands.add_parser(
        "check", help="run the guard over files and folders and report what it flags",
        description="Classify PATH... and report how many scans the guard flags and why. Exit 3 if a file "
        "could not be read.",
    )
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_model_argument(check)
    check.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    check.add_argument("--batch-size", type=int, default=16)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=run_check)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def run_fit(args) -> int:
    from pneumonet_core.models.card import ood_text
    from pneumonet_core.ood.fitting import fit_folder

    report = fit_folder(args.data_dir, args.model, args.out, args.percentile, args.components, args.batch_size,
                        adults=args.adults, population_percentile=args.population_percentile)
    for err in report["errors"]:
        print(printable(f"pneumonet guard fit: skipped {err}"), file=sys.stderr)
    if args.json:
        write_json(report)
        return 0
    guard = report["guard"]
    fitted = guard["fitted_on"]
    print(f"fitted on {fitted['data_set']}: {fitted['images']} films of {fitted['patients']} patients "
          f"({fitted['per_class']})")
    print(f"  guard: {ood_text(guard)}")
    if guard.get("threshold") is not None:
        print(f"  feature threshold {guard['threshold']:.4f} ({guard['percentile']}th percentile, "
              f"{guard['components']} of {guard['dimensions']} dimensions)")
    adult = (guard.get("population") or {}).get("adult")
    if adult:
        print(f"  adult-like films: {adult['adult_detection_rate']:.1%} of {adult['fitted_on']['adult_films']} flagged "
              f"({adult['adult_detection_how']}); children flagged {adult['children_flag_rate']:.1%}")
    print(f"wrote {report['out']} (hash {report['hash'][:12]})")
    return 0


def check_report(results, classifier) -> dict:
    """Counts of flagged scans, the distribution of scores, and each flagged file with its reason."""
    import numpy as np

    assessed = [r for r in results if r.ok and r.out_of_distribution is not None]
    flagged = [r for r in assessed if r.out_of_distribution]
    scores = np.array([r.ood_score for r in assessed], dtype=float)
    quantiles = {f"p{q}": round(float(np.percentile(scores, q)), 4) for q in (50, 95, 99)} if len(scores) else {}
    return {
        "model": model_summary(classifier), "scans": len(results), "assessed": len(assessed),
        "flagged": len(flagged), "flag_rate": round(len(flagged) / len(assessed), 4) if assessed else None,
        "score_quantiles": quantiles,
        "flagged_files": [{"path": str(r.path), "ood_score": r.ood_score, "ood_reason": r.ood_reason} for r in flagged],
        "errors": [f"{r.path}: {r.error}" for r in results if not r.ok],
    }


def run_check(args) -> int:
    from pneumonet_core.imaging import find_scans
    from pneumonet_core.inference.batch import classify_paths

    classifier = load_classifier(args.model)
    paths = find_scans(args.paths, recursive=args.recursive)
    report = check_report(list(classify_paths(paths, classifier, batch_size=args.batch_size)), classifier)
    if args.json:
        write_json(report)
    else:
        for item in report["flagged_files"]:
            print(printable(f"{item['path']}: flagged (score {item['ood_score']:.2f}): {item['ood_reason']}"))
        for err in report["errors"]:
            print(printable(err), file=sys.stderr)
        rate = report["flag_rate"]
        print(f"{report['flagged']} of {report['assessed']} scans flagged"
              + (f" ({rate:.1%})" if rate is not None else "") + f" by the guard of {classifier.card.name}: "
              f"{classifier.guard.description()}")
    return 3 if report["errors"] else 0
