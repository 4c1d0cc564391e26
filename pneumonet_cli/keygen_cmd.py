"""``pneumonet keygen``: make an ed25519 key pair for signing model packages."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "keygen", help="make an ed25519 key pair for 'pneumonet sign'",
        description="Write a new ed25519 private key (PEM, readable by you only) and its public key "
        "(PRIVATE.pub unless --public is given). Existing files are never overwritten.",
    )
    p.add_argument("private", type=Path, metavar="PRIVATE.pem")
    p.add_argument("--public", type=Path, default=None, metavar="PUBLIC.pub")
    p.add_argument("--trust", action="store_true",
                   help="also trust the public key on this machine ($PNEUMONET_HOME/trusted_keys/)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pneumonet_core.models.signing import generate_key_pair, trust_public_key

    private, public, kid = generate_key_pair(args.private, args.public)
    print(f"private key {private} (keep it secret)")
    print(f"public key  {public} (key id {kid})")
    if args.trust:
        print(f"trusted     {trust_public_key(public)}")
    return 0
