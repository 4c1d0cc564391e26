"""``pneumonet sign``: sign a model package with an ed25519 key, for sharing between sites."""

from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sign", help="sign a model package (ed25519) so other sites can require signed models",
        description="Sign MODEL with an ed25519 private key (make one with 'pneumonet keygen'). The signature "
        "covers the package's integrity manifest, so it covers every file. Sites that require signatures "
        "(--require-signature, PNEUMONET_REQUIRE_SIGNATURE=1 or require_signature in settings.json) load it "
        "once the public key is in $PNEUMONET_HOME/trusted_keys/.",
    )
    p.add_argument("model", type=Path, metavar="MODEL")
    p.add_argument("--key", type=Path, required=True, metavar="PRIVATE.pem", help="ed25519 private key (PEM)")
    p.add_argument("--out", type=Path, default=None, metavar="OUT",
                   help="write the signed package here (default: sign MODEL in place)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_core.models.signing import sign_package

    target, kid = sign_package(args.model, args.key, args.out)
    print(f"signed {target} with key {kid}")
    print("pneumonet sign: other sites trust it by copying the public key into their trusted_keys folder",
          file=sys.stderr)
    return 0
