"""One market across regions: federated search, forwarded licences, relayed data calls.

Both halves of every cross-region use live here, the consumer's home node and the
provider's node:

* **Search.** :meth:`Market.search` (CatalogService.SearchProducts) asks this node's
  catalog and every peer's ``FederationService.SearchCatalog`` at once (gRPC futures,
  one deadline), merges the pages in (create_time, region, name) order and says per
  region what happened. A slow or dead peer costs at most the deadline and marks the
  answer ``degraded``; its cursor stays where it was, so the next page asks it again.
  The page token holds one cursor per region: the region's own page token and how
  many products of that page were already handed out.
* **Licences.** A consumer asks its home node for a licence on another region's
  product (``parent`` names the provider region). The home node vouches for the
  consumer (:class:`VouchedConsumer`), forwards the request, keeps a copy of what the
  provider decided (``market_licence_copies``) and answers with it. The provider
  decides with its own policy engine (:class:`MarketLicensing`), and tells the home
  node of later changes (a held request approved or rejected, a licence suspended,
  resumed or revoked) through the durable outbox as a ``LicenceNotice``, applied by
  :meth:`Market.on_licence_notice`. Notices are enqueued with ids derived from the
  change, in the step the licensing domain re-runs after a crash, so none is lost
  and none applies twice.
* **Data calls.** ReadData / LookupRecord / VerifyClaim on a licence of another
  region are relayed to ``ForwardReadData`` / ``ForwardLookupRecord`` /
  ``ForwardVerifyClaim``. The provider enforces, meters and records the usage entry
  exactly as for a local call (the vouched party is the holder; its usage record
  names the home region as ``relay_region``). The home node checks the provider's
  signed receipt, appends a ``ConsumptionRecorded`` entry citing the provider's
  entry, stores a ``market_consumption`` row and hands the consumer the provider's
  receipt unchanged. A retried ``request_id`` gets the provider's first receipt, the
  ledger's idempotency key returns the first consumption entry, and the row's unique
  ``usage_record_id`` keeps one row: nothing is recorded twice on either side.

The trace of a relayed call is one trace: peer calls are made on the thread serving
the consumer, inside its server span, and the signing interceptor injects
``traceparent``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import grpc
from bashu.access.v1 import access_pb2
from bashu.catalog.v1 import catalog_pb2
from bashu.common.v1 import common_pb2
from bashu.federation.v1 import federation_pb2
from bashu.ledger.v1 import record_pb2
from bashu.licensing.v1 import licensing_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.log import Log
from ledger.note import Verifier
from services import interceptors
from services.auth import Principal, Role
from services.catalog import (
    MAX_NOTE,
    PARTY_NAME_RE,
    Catalog,
    PageRequest,
    RequestKey,
    fingerprint,
    party_name,
)
from services.config import PeerConfig
from services.dataplane import DataPlane
from services.db import read_scope, session_scope
from services.errors import (
    AbortedError,
    BashuError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    UnavailableError,
)
from services.licensing import (
    Licence,
    LicenceRequest,
    LicenceState,
    Licensing,
)
from services.metering import Claim, Meter
from services.models import (
    ConsumptionRow,
    LicenceEvent,
    LicenceRequestRow,
    LicenceRow,
    MarketLicenceCopy,
)
from services.outbox import (
    Apply,
    HandlerContext,
    MessageRejectedError,
    Outbox,
)
from services.peers import PeerChannels, describe_rpc_error
from services.policy import (
    HOME_COUNTRY,
    CrossBorder,
    LicenceTerms,
)
from services.records import encode_record
from services.signing import USAGE_RECEIPT_CONTEXT, DocumentSignature, verify_document

if TYPE_CHECKING:
    from services.access_service import AccessServicer

__all__ = [
    "DEFAULT_PEER_SEARCH_S",
    "Market",
    "MarketDataPlane",
    "MarketLicensing",
    "RegionPage",
    "RelayMeter",
    "VouchedPrincipal",
    "region_of_name",
    "vouched_principal",
]

log = logging.getLogger(__name__)

DEFAULT_PEER_SEARCH_S = 2.0
MAX_PAGE = 1000
DEFAULT_PAGE = 50
# Kept back from the caller's own deadline so the merged answer still reaches it.
_DEADLINE_MARGIN_S = 0.1
_NO_DEADLINE_S = 10 * 365 * 86400.0

LNK = federation_pb2.LicenceNoticeKind
_STATUS_NOTICE = {
    LicenceState.SUSPENDED: LNK.LICENCE_NOTICE_KIND_SUSPENDED,
    LicenceState.ACTIVE: LNK.LICENCE_NOTICE_KIND_RESUMED,
    LicenceState.REVOKED: LNK.LICENCE_NOTICE_KIND_REVOKED,
    LicenceState.EXPIRED: LNK.LICENCE_NOTICE_KIND_EXPIRED,
}


def region_of_name(name: str) -> str:
    """``regions/{region}/...`` -> region ("" when the name is not of that form)."""
    parts = name.split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "regions" else ""


def _now_us(clock: Callable[[], float]) -> int:
    return int(clock() * 1_000_000)


def _ts(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


# --- the vouched consumer ---------------------------------------------------------------


@dataclass(frozen=True)
class VouchedPrincipal(Principal):
    """A consumer of a peer region, as its home node vouched for it.

    ``party`` is the full party name (``regions/cq/parties/p``): a peer's party id
    may equal one of this region's, so the short id alone never identifies it.
    """

    party: str = ""
    region: str = ""


def vouched_principal(consumer: federation_pb2.VouchedConsumer, caller: str) -> VouchedPrincipal:
    """The consumer a peer vouches for; its region must be the calling region."""
    match = PARTY_NAME_RE.fullmatch(consumer.party)
    if match is None:
        raise InvalidArgumentError(
            [FieldViolation("consumer.party", "is not a party name")], reason="INVALID_NAME"
        )
    if consumer.region != caller or match.group(1) != caller:
        raise PermissionDeniedError(
            f"region {caller!r} may vouch only for its own parties, not {consumer.party}",
            reason="CONSUMER_REGION_MISMATCH",
            metadata={"caller": caller},
        )
    return VouchedPrincipal(
        party_id=f"{caller}:{match.group(2)}",
        party_name=consumer.display_name,
        roles=frozenset({Role.CONSUMER}),
        key_id="",
        party=consumer.party,
        region=caller,
    )


@contextlib.contextmanager
def acting_as(principal: Principal) -> Iterator[None]:
    """Serve a relayed call as the vouched consumer (the caller stays the peer)."""
    # The servicers read the party from the interceptor's context variable.
    token = interceptors._principal.set(principal)
    try:
        yield
    finally:
        interceptors._principal.reset(token)


# --- provider side: metering a relayed call ----------------------------------------------


class RelayMeter(Meter):
    """The node's meter; a use on a licence of another region's consumer was relayed
    by that region's node, and its usage record says so."""

    def _record_message(self, claim: Claim, *args: Any, **kwargs: Any) -> Any:
        # Signature-agnostic: the metering hot path builds records in several ways.
        record = super()._record_message(claim, *args, **kwargs)
        target = record if isinstance(record, access_pb2.UsageRecord) else kwargs.get("into")
        consumer_region = claim.terms.consumer_region
        if isinstance(target, access_pb2.UsageRecord) and consumer_region != self.region:
            target.relay_region = consumer_region
        return record


@dataclass
class MarketDataPlane(DataPlane):
    """The node's data plane, serving vouched consumers of peer regions too."""

    def __post_init__(self) -> None:
        super().__post_init__()
        meter = self.meter
        self.meter = RelayMeter(
            **{f.name: getattr(meter, f.name) for f in dataclasses.fields(meter) if f.init}
        )

    def _party(self, caller: Principal) -> str:
        if isinstance(caller, VouchedPrincipal):
            return caller.party
        return super()._party(caller)


# --- provider side: deciding forwarded licence requests ----------------------------------


class MarketLicensing(Licensing):
    """Licensing that also decides requests forwarded by peers and tells the consumers'
    home nodes of later changes (through ``notices``, the federation outbox)."""

    notices: Outbox | None = None
    origin: str = ""
    # Peer region -> country of its consumers (config ``peers[].country``).
    peer_countries: Mapping[str, str] = MappingProxyType({})

    def _request(
        self, row: LicenceRequestRow, now: int, *, as_decided: bool = False
    ) -> LicenceRequest:
        made = super()._request(row, now, as_decided=as_decided)
        if row.home_region != self.region:
            # The requester of a forwarded request is the vouched party itself.
            return dataclasses.replace(made, requester=row.consumer_party)
        return made

    def _cross_border(self, consumer: VouchedPrincipal, terms: LicenceTerms) -> LicenceTerms:
        """Terms for a consumer abroad always carry cross-border terms naming its
        country: a request that leaves them out is decided (and denied) as a
        cross-border request without approval, never as a domestic one."""
        country = self.peer_countries.get(consumer.region, HOME_COUNTRY)
        if country == HOME_COUNTRY:
            return terms
        if terms.cross_border is None:
            return dataclasses.replace(terms, cross_border=CrossBorder(destination_country=country))
        if terms.cross_border.destination_country != country:
            raise InvalidArgumentError(
                [
                    FieldViolation(
                        "licence_request.terms.cross_border.destination_country",
                        f"consumers of region {consumer.region!r} are in {country}",
                    )
                ],
                reason="INVALID_LICENCE_TERMS",
            )
        return terms

    def request_forwarded(
        self,
        consumer: VouchedPrincipal,
        terms: LicenceTerms,
        justification: str,
        req: RequestKey,
    ) -> tuple[LicenceRequest, Licence | None]:
        """Decide a request a peer forwarded for ``consumer`` (same policy, same
        records as a local request; idempotent by (consumer, request_id))."""
        if len(justification) > MAX_NOTE:
            raise InvalidArgumentError(
                [FieldViolation("licence_request.justification", f"at most {MAX_NOTE} characters")],
                reason="INVALID_LICENCE_TERMS",
            )
        if terms.consumer_party != consumer.party:
            raise PermissionDeniedError(
                f"terms name {terms.consumer_party}, not the vouched {consumer.party}",
                reason="NOT_PARTY",
            )
        if terms.consumer_region != consumer.region:
            raise PermissionDeniedError(
                f"terms name region {terms.consumer_region!r}, not {consumer.region!r}",
                reason="CONSUMER_REGION_MISMATCH",
            )
        terms = self._cross_border(consumer, terms)
        return self._decide(consumer, terms, justification, req, home_region=consumer.region)

    # -- notices to the consumer's home node ----------------------------------------------

    def _enqueue_notice(self, recipient: str, key: str, notice: Any) -> None:
        assert self.notices is not None
        message_id = "ln-" + hashlib.sha256(key.encode()).hexdigest()[:40]
        try:
            with self._tx() as session:
                self.notices.enqueue(session, recipient, notice, message_id=message_id)
        except IntegrityError:
            pass  # enqueued before a crash: the same change, the same message

    def _notice(
        self, kind: int, request_row: LicenceRequestRow, licence_row: LicenceRow | None, now: int
    ) -> federation_pb2.LicenceNotice:
        from services.licensing_service import licence_to_proto, request_to_proto

        notice = federation_pb2.LicenceNotice(
            kind=kind,  # type: ignore[arg-type]
            licence_request=request_to_proto(self._request(request_row, now), self.origin),
            time=_ts(now),
        )
        if licence_row is not None:
            notice.licence.CopyFrom(
                licence_to_proto(self._licence(licence_row, request_row, now), self.origin)
            )
        return notice

    def _record_review(self, request_id: str) -> None:
        # Enqueued before the ledger step: a crash in between re-runs this method
        # (record_pending), and the message id makes the second enqueue a no-op.
        self._notify_review(request_id)
        super()._record_review(request_id)

    def _notify_review(self, request_id: str) -> None:
        if self.notices is None:
            return
        with self._tx() as session:
            row = session.get(LicenceRequestRow, request_id)
            if row is None or row.home_region == self.region:
                return
            lic = session.get(LicenceRow, row.licence_id) if row.licence_id else None
            notice = self._notice(LNK.LICENCE_NOTICE_KIND_REQUEST_DECIDED, row, lic, row.update_us)
            home = row.home_region
        self._enqueue_notice(home, f"review/{self.region}/{request_id}", notice)

    def _record_status(self, licence_id: str, seq: int) -> None:
        self._notify_status(licence_id, seq)
        super()._record_status(licence_id, seq)

    def _notify_status(self, licence_id: str, seq: int) -> None:
        if self.notices is None:
            return
        with self._tx() as session:
            lic = session.get(LicenceRow, licence_id)
            event = session.get(LicenceEvent, (licence_id, seq))
            if lic is None or event is None:
                return
            home = region_of_name(lic.consumer_party)
            if not home or home == self.region:
                return
            row = session.get(LicenceRequestRow, lic.licence_request_id)
            assert row is not None
            kind = _STATUS_NOTICE.get(LicenceState[event.new_state])
            if kind is None:
                return
            notice = self._notice(kind, row, lic, event.create_us)
        self._enqueue_notice(home, f"status/{self.region}/{licence_id}/{seq}", notice)


# --- errors of peer calls ----------------------------------------------------------------


def peer_error(region: str, err: grpc.RpcError) -> BashuError:
    """The error a peer answered, as this node's own (same code, reason, metadata), or
    UNAVAILABLE ``PEER_UNAVAILABLE`` when the peer could not answer."""
    call = cast(grpc.Call, err)
    code = call.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    message = (call.details() if hasattr(err, "details") else "") or ""
    reason = ""
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    status = rpc_status.from_call(call) if hasattr(err, "trailing_metadata") else None
    if status is not None:
        message = status.message
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
                metadata = dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = [FieldViolation(v.field, v.description) for v in bad.field_violations]
    text = f"region {region}: {message}"
    simple: dict[grpc.StatusCode, type[BashuError]] = {
        grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
        grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
        grpc.StatusCode.ABORTED: AbortedError,
    }
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgumentError(
            violations or [FieldViolation("request", text)], reason=reason or None
        )
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(metadata.get("resource", text), reason=reason or None)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        exhausted = QuotaExceededError.__new__(QuotaExceededError)
        BashuError.__init__(exhausted, text, reason=reason or None, metadata=metadata)
        return exhausted
    if code in simple:
        return simple[code](text, reason=reason or None, metadata=metadata)
    return UnavailableError(
        f"region {region} did not answer: {describe_rpc_error(err)}; retry with the same "
        "request_id",
        reason="PEER_UNAVAILABLE",
        metadata={"region": region},
    )


# --- the market ---------------------------------------------------------------------------


@dataclass
class _Cursor:
    token: str
    offset: int


@dataclass
class RegionPage:
    products: list[catalog_pb2.Product]
    next_token: str


class Market:
    """Both halves of the federated market on one node (see the module docstring)."""

    def __init__(
        self,
        *,
        region: str,
        origin: str,
        engine: Engine,
        ledger: Log,
        catalog: Catalog,
        licensing: MarketLicensing,
        channels: PeerChannels | None,
        peers: Sequence[PeerConfig],
        peer_timeout_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self.origin = origin
        self.engine = engine
        self.ledger = ledger
        self.catalog = catalog
        self.licensing = licensing
        self.channels = channels
        self.peers = {p.region: p for p in peers}
        # Parsed once: every relayed call checks the provider's receipt with these.
        self._receipt_verifiers = {
            p.region: [Verifier.from_vkey(k) for k in p.verifier_keys] for p in peers
        }
        self.peer_timeout_s = peer_timeout_s
        self.clock = clock
        self.access: AccessServicer | None = None

    # -- helpers ---------------------------------------------------------------------------

    def is_remote(self, name: str) -> bool:
        region = region_of_name(name)
        return bool(region) and region != self.region

    def _peer(self, region: str) -> PeerConfig:
        peer = self.peers.get(region)
        if peer is None or self.channels is None:
            raise UnavailableError(
                f"region {region!r} is not a configured peer",
                reason="PEER_UNAVAILABLE",
                metadata={"region": region},
            )
        return peer

    def _vouch(self, principal: Principal) -> federation_pb2.VouchedConsumer:
        return federation_pb2.VouchedConsumer(
            party=party_name(self.region, principal.party_id),
            region=self.region,
            display_name=principal.party_name,
        )

    def _call(self, region: str, method: str, request: Any, timeout: float | None) -> Any:
        self._peer(region)
        assert self.channels is not None
        stub = self.channels.federation(region)
        try:
            return getattr(stub, method)(request, timeout=timeout)
        except grpc.RpcError as err:
            raise peer_error(region, err) from None

    # -- search (home side) --------------------------------------------------------------

    @staticmethod
    def _search_fingerprint(request: catalog_pb2.SearchProductsRequest) -> str:
        copy = catalog_pb2.SearchProductsRequest()
        copy.CopyFrom(request)
        for name in ("page_size", "page_token", "peer_timeout"):
            copy.ClearField(name)
        return fingerprint("SearchProducts", copy.SerializeToString(deterministic=True))

    @staticmethod
    def _encode_cursors(fp: str, cursors: dict[str, _Cursor | None]) -> str:
        data = {
            "f": fp[:16],
            "c": {r: [c.token, c.offset] if c else None for r, c in sorted(cursors.items())},
        }
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode_cursors(token: str, fp: str, regions: Sequence[str]) -> dict[str, _Cursor | None]:
        if not token:
            return {r: _Cursor("", 0) for r in regions}
        bad = InvalidArgumentError(
            [FieldViolation("page_token", "not a token this server issued for this request")],
            reason="INVALID_PAGE_TOKEN",
        )
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise bad from None
        if not isinstance(data, dict) or data.get("f") != fp[:16]:
            raise bad
        raw = data.get("c")
        if not isinstance(raw, dict) or sorted(raw) != sorted(regions):
            raise bad
        out: dict[str, _Cursor | None] = {}
        for region, cursor in raw.items():
            if cursor is None:
                out[region] = None
            elif (
                isinstance(cursor, list)
                and len(cursor) == 2
                and isinstance(cursor[0], str)
                and isinstance(cursor[1], int)
                and 0 <= cursor[1] < MAX_PAGE
            ):
                out[region] = _Cursor(cursor[0], cursor[1])
            else:
                raise bad
        return out

    def search(
        self,
        principal: Principal,
        request: catalog_pb2.SearchProductsRequest,
        *,
        local: Callable[[PageRequest], RegionPage],
        time_remaining: float | None,
    ) -> catalog_pb2.SearchProductsResponse:
        """One page of the federated search (see the module docstring)."""
        fp = self._search_fingerprint(request)
        regions = list(dict.fromkeys(request.regions)) or [self.region, *sorted(self.peers)]
        cursors = self._decode_cursors(request.page_token, fp, regions)
        if request.page_size < 0:
            raise InvalidArgumentError([FieldViolation("page_size", "must not be negative")])
        size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        wait_s = (
            request.peer_timeout.ToNanoseconds() / 1e9
            if request.peer_timeout.ToNanoseconds() > 0
            else DEFAULT_PEER_SEARCH_S
        )
        if time_remaining is not None:
            wait_s = max(0.0, min(wait_s, time_remaining - _DEADLINE_MARGIN_S))
        started = time.monotonic()
        deadline = started + wait_s
        statuses: dict[str, catalog_pb2.PeerSearchStatus] = {}
        pages: dict[str, RegionPage] = {}
        futures: dict[str, Any] = {}
        finished: dict[str, float] = {}
        # Start every peer first, then read this node's own page while they answer.
        for region in regions:
            cursor = cursors[region]
            if cursor is None:
                statuses[region] = catalog_pb2.PeerSearchStatus(
                    region=region,
                    state=catalog_pb2.PEER_SEARCH_STATE_SKIPPED,
                    detail="no more results",
                )
                continue
            if region == self.region:
                continue
            if region not in self.peers or self.channels is None:
                statuses[region] = catalog_pb2.PeerSearchStatus(
                    region=region,
                    state=catalog_pb2.PEER_SEARCH_STATE_UNREACHABLE,
                    detail=f"region {region!r} is not a configured peer",
                )
                continue
            ask = federation_pb2.SearchCatalogRequest(
                filter=request.filter,
                element_code_region=request.element_code_region,
                page_size=min(cursor.offset + size, MAX_PAGE),
                page_token=cursor.token,
            )
            method: Any = self.channels.federation(region).SearchCatalog
            future = method.future(ask, timeout=wait_s)
            future.add_done_callback(lambda _f, r=region: finished.setdefault(r, time.monotonic()))
            futures[region] = future
        own = cursors.get(self.region)
        if self.region in regions and own is not None:
            pages[self.region] = local(PageRequest(min(own.offset + size, MAX_PAGE), own.token, fp))
            finished[self.region] = time.monotonic()
        for region, future in futures.items():
            try:
                answer = future.result(timeout=max(0.0, deadline - time.monotonic()) + 0.05)
            except grpc.FutureTimeoutError:
                future.cancel()
                statuses[region] = self._failed(region, catalog_pb2.PEER_SEARCH_STATE_TIMEOUT, "")
            except grpc.RpcError as err:
                call = cast(grpc.Call, err)
                state = {
                    grpc.StatusCode.DEADLINE_EXCEEDED: catalog_pb2.PEER_SEARCH_STATE_TIMEOUT,
                    grpc.StatusCode.UNAVAILABLE: catalog_pb2.PEER_SEARCH_STATE_UNREACHABLE,
                    grpc.StatusCode.CANCELLED: catalog_pb2.PEER_SEARCH_STATE_TIMEOUT,
                }.get(call.code(), catalog_pb2.PEER_SEARCH_STATE_ERROR)
                statuses[region] = self._failed(region, state, describe_rpc_error(err))
            else:
                pages[region] = RegionPage(list(answer.products), answer.next_page_token)
        # Merge: each region offers its products after its cursor's offset.
        offered = [
            (p.create_time.ToMicroseconds(), p.name, region, p)
            for region, page in pages.items()
            for p in page.products[cast(_Cursor, cursors[region]).offset :]
        ]
        offered.sort(key=lambda t: (t[0], t[1]))
        taken = offered[:size]
        counts = {region: 0 for region in pages}
        for _, _, region, _ in taken:
            counts[region] += 1
        for region, page in pages.items():
            cursor = cursors[region]
            assert cursor is not None
            used = cursor.offset + counts[region]
            if used < len(page.products):
                cursors[region] = _Cursor(cursor.token, used)
            elif page.next_token:
                cursors[region] = _Cursor(page.next_token, 0)
            else:
                cursors[region] = None
            latency = Duration()
            latency.FromNanoseconds(int((finished.get(region, time.monotonic()) - started) * 1e9))
            statuses[region] = catalog_pb2.PeerSearchStatus(
                region=region,
                state=catalog_pb2.PEER_SEARCH_STATE_OK,
                result_count=counts[region],
                latency=latency,
            )
        for status in statuses.values():
            if status.state in (
                catalog_pb2.PEER_SEARCH_STATE_TIMEOUT,
                catalog_pb2.PEER_SEARCH_STATE_UNREACHABLE,
                catalog_pb2.PEER_SEARCH_STATE_ERROR,
            ) and not status.HasField("latency"):
                status.latency.FromNanoseconds(int((time.monotonic() - started) * 1e9))
        more = any(c is not None for c in cursors.values())
        ordered = [statuses[r] for r in regions if r in statuses]
        return catalog_pb2.SearchProductsResponse(
            products=[t[3] for t in taken],
            next_page_token=self._encode_cursors(fp, cursors) if more else "",
            peer_statuses=ordered,
            degraded=any(
                s.state
                not in (catalog_pb2.PEER_SEARCH_STATE_OK, catalog_pb2.PEER_SEARCH_STATE_SKIPPED)
                for s in ordered
            ),
        )

    @staticmethod
    def _failed(region: str, state: int, detail: str) -> catalog_pb2.PeerSearchStatus:
        return catalog_pb2.PeerSearchStatus(
            region=region,
            state=state,  # type: ignore[arg-type]
            detail=detail or "no answer before the deadline",
        )

    # -- search (provider side) ------------------------------------------------------------

    def peer_principal(self, region: str) -> Principal:
        """Who a peer's search runs as: nobody in particular, so ACTIVE products only."""
        return Principal(party_id="", party_name=f"region {region}", roles=frozenset(), key_id="")

    # -- licences (home side) ----------------------------------------------------------------

    def request_licence(
        self,
        principal: Principal,
        request: licensing_pb2.CreateLicenceRequestRequest,
        provider_region: str,
    ) -> licensing_pb2.CreateLicenceRequestResponse:
        """Forward a local consumer's request to the provider region; keep a copy."""
        me = party_name(self.region, principal.party_id)
        forwarded = licensing_pb2.CreateLicenceRequestRequest()
        forwarded.CopyFrom(request)
        terms = forwarded.licence_request.terms
        terms.consumer_party = terms.consumer_party or me
        terms.consumer_region = terms.consumer_region or self.region
        if terms.consumer_party != me:
            raise PermissionDeniedError(
                f"terms name {terms.consumer_party}, not the caller {me}", reason="NOT_PARTY"
            )
        if terms.consumer_region != self.region:
            raise InvalidArgumentError(
                [
                    FieldViolation(
                        "licence_request.terms.consumer_region", f"must be {self.region!r}"
                    )
                ],
                reason="INVALID_LICENCE_TERMS",
            )
        if region_of_name(terms.product) != provider_region:
            raise InvalidArgumentError(
                [
                    FieldViolation(
                        "licence_request.terms.product",
                        f"must be a product of region {provider_region!r} (the parent)",
                    )
                ],
                reason="INVALID_LICENCE_TERMS",
            )
        answer: federation_pb2.ForwardLicenceRequestResponse = self._call(
            provider_region,
            "ForwardLicenceRequest",
            federation_pb2.ForwardLicenceRequestRequest(
                consumer=self._vouch(principal), request=forwarded
            ),
            self.peer_timeout_s,
        )
        self._keep_copy(provider_region, answer.licence_request, answer.licence, None)
        response = licensing_pb2.CreateLicenceRequestResponse(
            licence_request=answer.licence_request
        )
        if answer.HasField("licence"):
            response.licence.CopyFrom(answer.licence)
        return response

    def _keep_copy(
        self,
        provider_region: str,
        made: licensing_pb2.LicenceRequest,
        licence: licensing_pb2.Licence | None,
        time_us: int | None,
    ) -> None:
        with session_scope(self.engine) as session:
            self._apply_copy(session, provider_region, made, licence, time_us)

    def _apply_copy(
        self,
        session: Session,
        provider_region: str,
        made: licensing_pb2.LicenceRequest,
        licence: licensing_pb2.Licence | None,
        time_us: int | None,
    ) -> None:
        """Insert or update a copy; a change older than the copy is ignored (notices
        may arrive after a later answer, or out of order after retries)."""
        now = _now_us(self.clock)
        at = (
            time_us
            if time_us is not None
            else max(
                made.update_time.ToMicroseconds(),
                licence.update_time.ToMicroseconds() if licence is not None else 0,
            )
        )
        has_licence = licence is not None and bool(licence.name)
        row = session.get(MarketLicenceCopy, made.name, with_for_update=True)
        if row is None:
            row = MarketLicenceCopy(
                name=made.name,
                provider_region=provider_region,
                consumer_party=made.terms.consumer_party,
                create_us=now,
                update_us=-1,
                licence_name="",
                licence_state="",
            )
            session.add(row)
        elif at < row.update_us:
            return
        row.state = licensing_pb2.LicenceRequestState.Name(made.state).removeprefix(
            "LICENCE_REQUEST_STATE_"
        )
        row.licence_request = made.SerializeToString(deterministic=True)
        if has_licence:
            assert licence is not None
            row.licence_name = licence.name
            row.licence_state = licensing_pb2.LicenceState.Name(licence.state).removeprefix(
                "LICENCE_STATE_"
            )
            row.licence = licence.SerializeToString(deterministic=True)
        row.update_us = at

    def on_licence_notice(
        self, message: federation_pb2.OutboxMessage, context: HandlerContext
    ) -> Apply | None:
        """The outbox handler of LICENCE_NOTICE: bring the copy up to date."""
        notice = message.licence_notice
        sender = context.sender_region
        made = notice.licence_request
        if not made.name:
            return None  # names nothing: kept in the inbox, with no effect
        if region_of_name(made.name) != sender or (
            notice.HasField("licence") and region_of_name(notice.licence.name) != sender
        ):
            raise MessageRejectedError("INVALID_NAME", "the notice is about another region")
        if region_of_name(made.terms.consumer_party) != self.region:
            raise MessageRejectedError("CONSUMER_REGION_MISMATCH", "not a consumer of ours")
        licence = notice.licence if notice.HasField("licence") else None
        at = notice.time.ToMicroseconds()

        def apply(session: Session) -> None:
            self._apply_copy(session, sender, made, licence, at)

        return apply

    def _copy_of(self, principal: Principal, *, request: str = "", licence: str = "") -> Any:
        me = party_name(self.region, principal.party_id)
        with read_scope(self.engine) as session:
            if request:
                row = session.get(MarketLicenceCopy, request)
            else:
                row = session.scalar(
                    select(MarketLicenceCopy).where(MarketLicenceCopy.licence_name == licence)
                )
            sees_all = bool({Role.OPERATOR, Role.FINANCE} & principal.roles)
            if row is None or not (sees_all or row.consumer_party == me):
                return None
            if request:
                return licensing_pb2.LicenceRequest.FromString(row.licence_request)
            return licensing_pb2.Licence.FromString(row.licence or b"")

    def get_request_copy(self, principal: Principal, name: str) -> licensing_pb2.LicenceRequest:
        found = self._copy_of(principal, request=name)
        if found is None:
            raise NotFoundError(name, reason="LICENCE_REQUEST_NOT_FOUND")
        return cast(licensing_pb2.LicenceRequest, found)

    def get_licence_copy(self, principal: Principal, name: str) -> licensing_pb2.Licence:
        found = self._copy_of(principal, licence=name)
        if found is None:
            raise NotFoundError(name, reason="LICENCE_NOT_FOUND")
        return cast(licensing_pb2.Licence, found)

    # -- licences (provider side) -----------------------------------------------------------

    def decide_forwarded(
        self, caller_region: str, request: federation_pb2.ForwardLicenceRequestRequest
    ) -> federation_pb2.ForwardLicenceRequestResponse:
        from services.catalog_service import request_key
        from services.licensing_service import (
            licence_to_proto,
            request_to_proto,
            terms_from_proto,
        )

        consumer = vouched_principal(request.consumer, caller_region)
        inner = request.request
        if self.licensing.parent_region(inner.parent, "request.parent") != self.region:
            raise InvalidArgumentError(
                [FieldViolation("request.parent", f"must be regions/{self.region}")],
                reason="INVALID_NAME",
            )
        key = request_key("CreateLicenceRequest", inner)
        terms = terms_from_proto(inner.licence_request.terms, consumer.party, consumer.region)
        made, licence = self.licensing.request_forwarded(
            consumer, terms, inner.licence_request.justification, key
        )
        response = federation_pb2.ForwardLicenceRequestResponse(
            licence_request=request_to_proto(made, self.origin)
        )
        if licence is not None:
            response.licence.CopyFrom(licence_to_proto(licence, self.origin))
        return response

    # -- data calls (home side) --------------------------------------------------------------

    def _held_licence(self, principal: Principal, licence: str) -> licensing_pb2.Licence:
        """The copy of a licence the caller obtained through this node (the home node
        relays only for licences it brokered)."""
        return self.get_licence_copy(
            dataclasses.replace(principal, roles=frozenset({Role.CONSUMER})), licence
        )

    def relay_read(
        self,
        principal: Principal,
        request: access_pb2.ReadDataRequest,
        time_remaining: float | None,
    ) -> Iterator[access_pb2.ReadDataResponse | bytes]:
        region = region_of_name(request.licence)
        copy = self._held_licence(principal, request.licence)
        self._peer(region)
        assert self.channels is not None
        if time_remaining is not None and time_remaining > _NO_DEADLINE_S:
            time_remaining = None  # gRPC reports "no deadline" as a huge number
        stream = self.channels.federation(region).ForwardReadData(
            federation_pb2.ForwardReadDataRequest(consumer=self._vouch(principal), request=request),
            timeout=time_remaining,
        )
        return self._relay_frames(region, principal, request, copy, stream)

    def _relay_frames(
        self,
        region: str,
        principal: Principal,
        request: access_pb2.ReadDataRequest,
        copy: licensing_pb2.Licence,
        stream: Any,
    ) -> Iterator[access_pb2.ReadDataResponse | bytes]:
        started = settled = False
        try:
            for frame in stream:
                if frame.WhichOneof("frame") == "receipt":
                    self.record_consumption(
                        principal, region, copy, request.request_id, frame.receipt
                    )
                    settled = True
                    yield access_pb2.ReadDataResponse(receipt=frame.receipt)
                else:
                    # The schema comes after the provider claimed the call.
                    started = True
                    # Wire-identical to ReadDataResponse: relayed as bytes.
                    yield frame.SerializeToString()
        except grpc.RpcError as err:
            raise peer_error(region, err) from None
        finally:
            stream.cancel()
            if started and not settled:
                # The consumer went away (or the stream broke) mid-read: the provider
                # records what it delivered. Fetch that receipt in the background so
                # this side records the same use.
                threading.Thread(
                    target=self._settle_broken_read,
                    args=(region, principal, request, copy),
                    name=f"settle-{request.request_id[:16]}",
                    daemon=True,
                ).start()

    def _settle_broken_read(
        self,
        region: str,
        principal: Principal,
        request: access_pb2.ReadDataRequest,
        copy: licensing_pb2.Licence,
    ) -> None:
        """Ask the provider again with the same request_id until it answers with the
        first call's receipt (its claim exists, so a retry never reads data again),
        then record the consumption."""
        delay = 0.2
        for _ in range(10):
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
            try:
                assert self.channels is not None
                stream = self.channels.federation(region).ForwardReadData(
                    federation_pb2.ForwardReadDataRequest(
                        consumer=self._vouch(principal), request=request
                    ),
                    timeout=self.peer_timeout_s,
                )
                try:
                    for frame in stream:
                        if frame.WhichOneof("frame") != "receipt":
                            return  # not a replay: never expected, never relayed
                        self.record_consumption(
                            principal, region, copy, request.request_id, frame.receipt
                        )
                        return
                finally:
                    stream.cancel()
            except (grpc.RpcError, BashuError) as exc:
                log.info("receipt of broken read %s not settled yet: %s", request.request_id, exc)
        log.warning("gave up settling broken read %s with %s", request.request_id, region)

    def relay_lookup(
        self, principal: Principal, request: access_pb2.LookupRecordRequest
    ) -> access_pb2.LookupRecordResponse:
        region = region_of_name(request.licence)
        copy = self._held_licence(principal, request.licence)
        answer: federation_pb2.ForwardLookupRecordResponse = self._call(
            region,
            "ForwardLookupRecord",
            federation_pb2.ForwardLookupRecordRequest(
                consumer=self._vouch(principal), request=request
            ),
            self.peer_timeout_s,
        )
        self.record_consumption(
            principal, region, copy, request.request_id, answer.response.receipt
        )
        return answer.response

    def relay_verify(
        self, principal: Principal, request: access_pb2.VerifyClaimRequest
    ) -> access_pb2.VerifyClaimResponse:
        region = region_of_name(request.licence)
        copy = self._held_licence(principal, request.licence)
        answer: federation_pb2.ForwardVerifyClaimResponse = self._call(
            region,
            "ForwardVerifyClaim",
            federation_pb2.ForwardVerifyClaimRequest(
                consumer=self._vouch(principal), request=request
            ),
            self.peer_timeout_s,
        )
        self.record_consumption(
            principal, region, copy, request.request_id, answer.response.receipt
        )
        return answer.response

    def record_consumption(
        self,
        principal: Principal,
        provider_region: str,
        licence: licensing_pb2.Licence,
        request_id: str,
        receipt: access_pb2.UsageReceipt,
    ) -> ConsumptionRow | None:
        """Check the provider's receipt and record the use on this side (once)."""
        peer = self._peer(provider_region)
        me = party_name(self.region, principal.party_id)
        sig = receipt.signature
        try:
            verify_document(
                self._receipt_verifiers[peer.region],
                USAGE_RECEIPT_CONTEXT,
                receipt.body,
                DocumentSignature(
                    sig.signer_region,
                    sig.key_name,
                    sig.key_id,
                    sig.signature,
                    sig.sign_time.ToMicroseconds(),
                ),
            )
            body = access_pb2.UsageReceiptBody.FromString(receipt.body)
        except (BashuError, DecodeError) as exc:
            raise UnavailableError(
                f"region {provider_region} sent a receipt that does not verify: {exc}",
                reason="SIGNATURE_INVALID",
            ) from None
        if (
            body.provider_region != provider_region
            or body.consumer_party != me
            or body.licence != licence.name
            or body.request_id != request_id
        ):
            raise UnavailableError(
                f"region {provider_region} sent a receipt for another call",
                reason="SIGNATURE_INVALID",
            )
        if not body.HasField("entry"):
            return None  # a rejected call: no usage entry, nothing consumed
        usage_record_id = f"{me}/{request_id}"
        time_us = body.time.ToMicroseconds()
        consumed = record_pb2.ConsumptionRecorded(
            usage_record=body.usage_record,
            usage_record_id=usage_record_id,
            licence=body.licence,
            consumer_party=me,
            provider_region=provider_region,
            product=licence.terms.product,
            tariff=body.tariff,
            purpose_class=licence.terms.purpose.purpose_class,
            provider_entry=body.entry,
            quantity=body.quantity,
            amount=body.amount,
            usage_time=body.time,
            receipt=receipt,
        )
        key = f"consumption/{usage_record_id}"
        appended = self.ledger.append(
            encode_record(self.region, me, key, consumption_recorded=consumed), key
        )
        when = datetime.fromtimestamp(time_us / 1_000_000, tz=UTC)
        mode = common_pb2.AccessMode.Name(body.access_mode).removeprefix("ACCESS_MODE_")
        row = ConsumptionRow(
            id=hashlib.sha256(key.encode()).hexdigest()[:32],
            usage_record_id=usage_record_id,
            usage_record=body.usage_record,
            provider_region=provider_region,
            consumer_party=me,
            licence=body.licence,
            product=licence.terms.product,
            tariff=body.tariff,
            purpose_class=int(licence.terms.purpose.purpose_class),
            mode=mode,
            provider_entry_index=body.entry.index,
            provider_leaf_hash=body.entry.leaf_hash,
            qty_calls=body.quantity.calls,
            qty_rows=body.quantity.rows,
            qty_bytes=body.quantity.bytes,
            amount_fen=body.amount.amount_fen,
            currency_code=body.amount.currency_code or "CNY",
            usage_time_us=time_us,
            period=when.strftime("%Y-%m"),
            day=when.strftime("%Y-%m-%d"),
            receipt=receipt.SerializeToString(deterministic=True),
            ledger_index=appended.index,
            ledger_leaf_hash=appended.leaf_hash,
            create_us=_now_us(self.clock),
        )
        try:
            with session_scope(self.engine) as session:
                if session.get(ConsumptionRow, row.id) is None:
                    session.add(row)
        except IntegrityError:
            pass  # recorded by a concurrent retry of the same call
        return row

    def consumed_receipt(
        self, principal: Principal, request: access_pb2.GetUsageReceiptRequest
    ) -> access_pb2.UsageReceipt:
        """The provider's receipt of an earlier relayed call, from this node's record."""
        usage_record_id = f"{party_name(self.region, principal.party_id)}/{request.request_id}"
        with read_scope(self.engine) as session:
            raw = session.scalar(
                select(ConsumptionRow.receipt).where(
                    ConsumptionRow.usage_record_id == usage_record_id,
                    ConsumptionRow.provider_region == region_of_name(request.parent),
                )
            )
        if raw is None:
            raise NotFoundError(
                f"usage of request {request.request_id}", reason="USAGE_RECORD_NOT_FOUND"
            )
        return access_pb2.UsageReceipt.FromString(raw)

    # -- data calls (provider side) ------------------------------------------------------

    def _servicer(self) -> AccessServicer:
        if self.access is None:
            raise UnavailableError("this node serves no data", reason="PEER_UNAVAILABLE")
        return self.access

    def forward_read(
        self,
        caller_region: str,
        request: federation_pb2.ForwardReadDataRequest,
        context: grpc.ServicerContext,
    ) -> Iterator[federation_pb2.ForwardReadDataResponse]:
        consumer = vouched_principal(request.consumer, caller_region)
        with acting_as(consumer):
            for frame in self._servicer().ReadData(request.request, context):
                raw = frame if isinstance(frame, bytes) else frame.SerializeToString()
                yield federation_pb2.ForwardReadDataResponse.FromString(raw)

    def forward_lookup(
        self,
        caller_region: str,
        request: federation_pb2.ForwardLookupRecordRequest,
        context: grpc.ServicerContext,
    ) -> federation_pb2.ForwardLookupRecordResponse:
        consumer = vouched_principal(request.consumer, caller_region)
        with acting_as(consumer):
            answer = self._servicer().LookupRecord(request.request, context)
        return federation_pb2.ForwardLookupRecordResponse(response=answer)

    def forward_verify(
        self,
        caller_region: str,
        request: federation_pb2.ForwardVerifyClaimRequest,
        context: grpc.ServicerContext,
    ) -> federation_pb2.ForwardVerifyClaimResponse:
        consumer = vouched_principal(request.consumer, caller_region)
        with acting_as(consumer):
            answer = self._servicer().VerifyClaim(request.request, context)
        return federation_pb2.ForwardVerifyClaimResponse(response=answer)


def time_remaining(context: grpc.ServicerContext) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None else float(remaining)
