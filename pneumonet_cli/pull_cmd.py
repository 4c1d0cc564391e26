"""``pneumonet pull``: query a PACS (C-FIND), retrieve the studies (C-GET), classify them.

The retrieved files go into ``--out`` (``<study uid>/<sop uid>.dcm``); they are then
classified like a folder, with every output option of ``pneumonet classify``
(``--csv``, ``--json``, ``--dicom-out``...). Pneumonet's own answers found in a study
are kept but not classified.
"""

from __future__ import annotations

import argparse
import sys

from pneumonet_cli.classify_cmd import add_output_arguments
from pneumonet_cli.listen_cmd import add_node_arguments, peer_type


def _date_range(text: str) -> str:
    from pneumonet_core.dicom_node.pull import check_date_range

    try:
        return check_date_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pull", help="retrieve studies from a PACS (C-FIND + C-GET) and classify them",
        description="Find the studies of a patient, a date range or an accession number on a PACS, retrieve "
        "them by C-GET into --out, and classify them like a folder. The PACS must know Pneumonet's AE title. "
        "Exit 3 if a study or a scan failed (the others are still classified).",
    )
    p.add_argument("--from", dest="peer", type=peer_type, required=True, metavar="HOST:PORT:AE", help="the PACS")
    p.add_argument("--patient", metavar="ID", help="Patient ID (wildcards * and ? allowed)")
    p.add_argument("--date", type=_date_range, metavar="YYYYMMDD[-YYYYMMDD]", help="study date or date range")
    p.add_argument("--accession", metavar="NUMBER", help="accession number")
    add_node_arguments(p, "where the retrieved DICOM files are written")
    add_output_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_cli import classify_cmd
    from pneumonet_core.dicom_node.pull import find_studies, retrieve_study
    from pneumonet_core.dicom_node.study import read_header, skip_reason

    if not (args.patient or args.date or args.accession):
        print("pneumonet pull: error: give at least one of --patient, --date, --accession", file=sys.stderr)
        return 2
    studies = find_studies(args.peer, args.ae_title, patient_id=args.patient, study_date=args.date,
                           accession_number=args.accession)
    print(f"pneumonet pull: {len(studies)} stud{'y' if len(studies) == 1 else 'ies'} found on {args.peer}",
          file=sys.stderr)
    scans, failed_studies = [], 0
    for study in studies:
        try:
            files, failed = retrieve_study(args.peer, args.ae_title, study.study_uid, args.out)
        except Exception as exc:  # noqa: BLE001 - one study failing does not stop the others
            print(f"pneumonet pull: study {study.study_uid}: {' '.join(str(exc).split())}", file=sys.stderr)
            failed_studies += 1
            continue
        images = [f for f in files if not skip_reason(read_header(f))]
        scans += images
        extra = f", {failed} not retrieved" if failed else ""
        others = f", {len(files) - len(images)} not classified (reports, Pneumonet's answers)" if len(images) < len(files) else ""
        print(f"pneumonet pull: study {study.study_uid}: {len(files)} object(s){extra}{others}", file=sys.stderr)
    if not scans:
        print("pneumonet pull: nothing to classify", file=sys.stderr)
        return 3
    args.paths, args.recursive, args.resume = scans, False, None
    code = classify_cmd.run(args)
    return 3 if failed_studies and code == 0 else code
