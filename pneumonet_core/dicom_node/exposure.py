"""Who may call the listener, for how long, and with how much.

A DICOM node that answers anyone on the network is an open door to a folder of patient
data, so the listener's defaults are closed: it listens on the loopback interface only,
and calls from other computers need an allow-list (calling AE titles, peer addresses, or
both). Every association is bounded too:

- a connection must send its association request within :data:`REQUEST_TIMEOUT_S` and
  an association idle for ``idle_timeout_s`` is dropped, so idle TCP connections cannot
  hold the node's association slots;
- one peer address holds at most ``per_peer`` associations at once (the rest are closed
  before a thread is started), and the node at most :data:`MAX_ASSOCIATIONS`;
- a received object larger than ``max_object_bytes`` is aborted while it arrives, so
  its bytes are never all held in memory.

The allow-lists come from the command line, the app's preferences or ``settings.json``
(``listener_allowed_aes``, ``listener_allowed_peers``).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass, field

DEFAULT_BIND = "127.0.0.1"
#: The largest object accepted by default: a large chest radiograph is 20 to 60 MB.
DEFAULT_MAX_OBJECT_MB = 128
DEFAULT_IDLE_TIMEOUT_S = 20.0
DEFAULT_PER_PEER = 4
#: Seconds a new connection has to send its A-ASSOCIATE request.
REQUEST_TIMEOUT_S = 5.0
MAX_ASSOCIATIONS = 16


def is_loopback(host: str) -> bool:
    """True for an address (or host name) that only this machine can reach."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _networks(peers) -> list:
    """Addresses or networks (``10.1.2.3``, ``10.1.0.0/16``); host names are resolved once."""
    found = []
    for peer in peers:
        text = str(peer).strip().strip("[]")
        try:
            found.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            try:
                infos = socket.getaddrinfo(text, None)
            except OSError:
                raise ValueError(f"allowed peer '{peer}' is neither an address nor a known host name") from None
            found.extend(ipaddress.ip_network(info[4][0]) for info in infos)
    return found


@dataclass(frozen=True)
class Exposure:
    """The listener's address and who may call it; :meth:`checked` refuses an open node."""

    bind: str = DEFAULT_BIND
    allowed_aes: tuple = ()
    allowed_peers: tuple = ()
    per_peer: int = DEFAULT_PER_PEER
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    max_object_bytes: int = DEFAULT_MAX_OBJECT_MB << 20
    networks: list = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def configured(cls, bind: str | None = None, allowed_aes=None, allowed_peers=None, **options) -> Exposure:
        """An Exposure from explicit values, ``settings.json`` filling what is None."""
        from pneumonet_core.settings import read_settings

        settings = read_settings()
        aes = allowed_aes if allowed_aes is not None else settings.get("listener_allowed_aes") or ()
        peers = allowed_peers if allowed_peers is not None else settings.get("listener_allowed_peers") or ()
        return cls(bind or DEFAULT_BIND, tuple(str(a).strip() for a in aes if str(a).strip()),
                   tuple(str(p).strip() for p in peers if str(p).strip()),
                   **{k: v for k, v in options.items() if v is not None})

    def checked(self) -> Exposure:
        """These values with the peer networks resolved; ValueError (one line) when unsafe or wrong."""
        from pneumonet_core.dicom_node.network import check_ae_title

        aes = tuple(check_ae_title(a) for a in self.allowed_aes)
        if not is_loopback(self.bind) and not aes and not self.allowed_peers:
            raise ValueError(f"listening on {self.bind} accepts calls from other computers: name the callers "
                             "allowed with --allow-ae and/or --allow-peer (or listener_allowed_aes / "
                             "listener_allowed_peers in settings.json), or listen on 127.0.0.1")
        if self.per_peer < 1 or self.idle_timeout_s <= 0 or self.max_object_bytes < 1:
            raise ValueError("the per-peer limit, the idle timeout and the size cap must be positive")
        return Exposure(self.bind, aes, self.allowed_peers, self.per_peer, self.idle_timeout_s,
                        self.max_object_bytes, _networks(self.allowed_peers))

    def peer_allowed(self, host: str) -> bool:
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(str(host).split("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def describe(self) -> str:
        who = []
        if self.allowed_aes:
            who.append("calling AE " + ", ".join(self.allowed_aes))
        if self.allowed_peers:
            who.append("peers " + ", ".join(self.allowed_peers))
        return "calls from " + (" and ".join(who) if who else "any AE title on this machine")


def configure_ae(ae, exposure: Exposure) -> None:
    """Timeouts, association limits and the calling-AE allow-list of a listening AE."""
    ae.acse_timeout = REQUEST_TIMEOUT_S
    ae.network_timeout = exposure.idle_timeout_s
    ae.dimse_timeout = exposure.idle_timeout_s
    ae.maximum_associations = MAX_ASSOCIATIONS
    if exposure.allowed_aes:
        ae.require_calling_aet = list(exposure.allowed_aes)


def guarded_server_class(exposure: Exposure, on_refused):
    """A pynetdicom server class that closes, before any DICOM is read, connections from a
    peer not allowed or holding ``per_peer`` associations already."""
    from pynetdicom.transport import ThreadedAssociationServer

    class GuardedServer(ThreadedAssociationServer):
        #: The sockets let in, per peer address; a closed one (fileno -1) no longer counts.
        held: dict[str, list] = {}

        def verify_request(self, request, client_address) -> bool:
            host = client_address[0] if isinstance(client_address, tuple) else str(client_address)
            if not exposure.peer_allowed(host):
                on_refused(f"connection from {host} refused: not an allowed peer")
                return False
            open_ones = [sock for sock in self.held.get(host, []) if sock.fileno() != -1]
            if len(open_ones) >= exposure.per_peer:
                on_refused(f"connection from {host} refused: it already holds {len(open_ones)} associations")
                return False
            self.held[host] = [*open_ones, request]
            return True

    return GuardedServer


class SizeGuard:
    """An EVT_PDU_RECV handler that aborts an association whose object outgrows the cap.

    It counts the data-set fragments of the message being received (a P-DATA value's
    first byte says command or data set, and last fragment or not), so the cap holds
    while the object arrives, before pynetdicom has assembled it.
    """

    def __init__(self, max_bytes: int, on_refused):
        self.max_bytes, self.on_refused = max_bytes, on_refused
        self._sizes: dict[int, int] = {}
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        items = getattr(event.pdu, "presentation_data_value_items", None)
        if not items:
            return
        key = id(event.assoc)
        over = False
        with self._lock:
            size = self._sizes.get(key, 0)
            for item in items:
                value = item.presentation_data_value or b""
                if value and not value[0] & 0x01:  # a data-set fragment
                    size += len(value) - 1
                    over = over or size > self.max_bytes
                    if value[0] & 0x02:  # its last one: the next message starts from zero
                        size = 0
            self._sizes[key] = 0 if over else size
        if over:
            self.on_refused(f"object from {event.assoc.requestor.address} aborted: larger than "
                            f"{self.max_bytes >> 20} MB (the size cap)")
            event.assoc.abort()
