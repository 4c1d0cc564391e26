"""DICOM network basics shared by the listener, forwarding and pull: peers, AE titles, contexts."""

from __future__ import annotations

from dataclasses import dataclass

from pneumonet_core.errors import PneumonetError

DEFAULT_AE_TITLE = "PNEUMONET"
DEFAULT_PORT = 11112
#: Seconds to wait for a TCP connection, an association answer, or a DIMSE reply.
NETWORK_TIMEOUT_S = 30


class DicomNetworkError(PneumonetError):
    """A DICOM peer could not be reached or refused a request; the message is one line."""


def check_ae_title(text: str) -> str:
    """An AE title as DICOM allows it: 1 to 16 characters, no backslash or control characters."""
    title = str(text).strip()
    if not 1 <= len(title) <= 16 or "\\" in title or not title.isprintable() or not title.isascii():
        raise ValueError(f"invalid AE title '{text}': 1 to 16 printable ASCII characters, no backslash")
    return title


@dataclass(frozen=True)
class Peer:
    """A remote DICOM node: host, port and called AE title."""

    host: str
    port: int
    ae_title: str

    @classmethod
    def parse(cls, text: str) -> Peer:
        """``HOST:PORT:AE`` (``[::1]:104:AE`` for an IPv6 address); ValueError when malformed."""
        parts = str(text).rsplit(":", 2)
        if len(parts) != 3 or not parts[0]:
            raise ValueError(f"'{text}' is not HOST:PORT:AE")
        host, port, ae_title = parts
        try:
            number = int(port)
        except ValueError:
            number = 0
        if not 1 <= number <= 65535:
            raise ValueError(f"'{text}': port '{port}' is not a number from 1 to 65535")
        return cls(host.strip("[]"), number, check_ae_title(ae_title))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}:{self.ae_title}"


def storage_transfer_syntaxes() -> list[str]:
    """Every transfer syntax pynetdicom knows, Explicit VR Little Endian first.

    An acceptor picks the first of these that a proposed context offers, so a sender that
    proposes a compressed syntax in its own context sends that file as it is, and one that
    proposes both in one context sends uncompressed (as dcmtk's storescp does by default).
    """
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import ALL_TRANSFER_SYNTAXES

    first = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
    return first + [syntax for syntax in ALL_TRANSFER_SYNTAXES if syntax not in first]


def application_entity(ae_title: str):
    """A pynetdicom AE with Pneumonet's title and timeouts."""
    from pynetdicom import AE

    from pneumonet_core.imaging.inflate import install

    install(network=True)  # a deflated object received is inflated with a bound, as a file read is
    ae = AE(ae_title=check_ae_title(ae_title))
    ae.connection_timeout = NETWORK_TIMEOUT_S
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = NETWORK_TIMEOUT_S
    return ae


def associate(ae, peer: Peer, what: str, **options):
    """An established association with ``peer``, or DicomNetworkError naming why not."""
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title, **options)
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        reason = "the association was rejected (check the AE titles and that the peer knows ours)"
    else:
        reason = "no association: connection refused, aborted or timed out (is it running, is the port right?)"
    raise DicomNetworkError(f"{what} {peer}: {reason}")


def status_text(status) -> str:
    """``0xA700`` and its meaning, from a DIMSE status dataset (or None)."""
    if status is None or "Status" not in status:
        return "no answer (connection lost or timed out)"
    from pynetdicom.status import code_to_category

    code = int(status.Status)
    comment = str(status.get("ErrorComment") or "").strip()
    return f"status 0x{code:04X} ({code_to_category(code).lower()}{': ' + comment if comment else ''})"


def is_success(status) -> bool:
    """True for a Success or Warning status (the object was stored)."""
    if status is None or "Status" not in status:
        return False
    from pynetdicom.status import code_to_category

    return code_to_category(int(status.Status)) in ("Success", "Warning")
