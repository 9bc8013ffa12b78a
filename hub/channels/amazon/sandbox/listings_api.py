"""Listings Items 2021-08-01, Feeds 2021-06-30 (JSON_LISTINGS_FEED) and presigned documents."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta
from typing import Any, Final

from hub.channels.amazon.marketplaces import MARKETPLACES_BY_ID, Region
from hub.channels.amazon.sandbox.state import (
    Document,
    Feed,
    Listing,
    Offer,
    PendingQuantity,
    PushRecord,
    SandboxApiError,
    SandboxState,
    Seller,
    invalid_input,
    iso,
    multi_values,
    not_found,
    single,
)

LISTING_INCLUDED_DATA: Final = frozenset(
    {
        "summaries",
        "attributes",
        "issues",
        "offers",
        "fulfillmentAvailability",
        "procurement",
        "relationships",
        "productTypes",
    }
)
FULFILLMENT_PATH: Final = "/attributes/fulfillment_availability"
MAX_FEED_MESSAGES: Final = 25_000


# --- scenario: listings ---------------------------------------------------------------------


def upsert_listing(
    state: SandboxState, seller: Seller, spec: dict[str, Any], now: datetime
) -> Listing:
    """Create or change a listing from a scenario request (quantity set directly, no delay)."""
    sku = str(spec.get("sku") or "")
    if not sku:
        raise invalid_input("sku is required")
    key = f"{seller.seller_id}|{sku}"
    listing = state.listings.get(key)
    if listing is None:
        listing = Listing(
            seller_id=seller.seller_id,
            sku=sku,
            product_type=str(spec.get("product_type", "PRODUCT")),
            item_name=str(spec.get("item_name") or sku),
            offers={},
        )
        state.listings[key] = listing
    if "reject_reason" in spec:
        listing.reject_reason = str(spec["reject_reason"] or "")
    for mid in spec.get("marketplace_ids") or [
        spec.get("marketplace_id") or seller.marketplace_ids[0]
    ]:
        mp = MARKETPLACES_BY_ID.get(mid)
        if mp is None or mid not in seller.marketplace_ids:
            raise invalid_input(f"seller {seller.seller_id} does not sell in {mid}")
        quantity = int(spec.get("quantity", 0))
        offer = listing.offers.get(mid)
        if offer is None:
            number = state.next_number()
            listing.offers[mid] = Offer(
                marketplace_id=mid,
                asin=str(spec.get("asin") or f"B0{number:08d}"),
                price=str(spec.get("price", "10.00")),
                currency=mp.currency,
                quantity=quantity,
                written_quantity=quantity,
                created=now,
                updated=now,
            )
        else:
            offer.quantity = offer.written_quantity = quantity
            offer.pending.clear()
            offer.updated = now
            if spec.get("asin"):
                offer.asin = str(spec["asin"])
            if spec.get("price"):
                offer.price = str(spec["price"])
    state.dirty = True
    return listing


def listing_view(listing: Listing) -> dict[str, Any]:
    """What the scenario API shows of a listing: listed, last accepted and pending quantities."""
    return {
        "sku": listing.sku,
        "product_type": listing.product_type,
        "reject_reason": listing.reject_reason,
        "offers": {
            mid: {
                "asin": o.asin,
                "listed_quantity": o.quantity,
                "accepted_quantity": o.written_quantity,
                "pending": [
                    {"quantity": p.quantity, "apply_at": iso(p.apply_at), "reference": p.reference}
                    for p in o.pending
                ],
            }
            for mid, o in listing.offers.items()
        },
    }


# --- listings items -------------------------------------------------------------------------


def _check_seller(seller: Seller, seller_id: str) -> None:
    if seller_id != seller.seller_id:
        raise SandboxApiError(
            403,
            "Unauthorized",
            "Access to requested resource is denied.",
            "The sellerId does not match the seller of the access token.",
        )


def _marketplaces(seller: Seller, params: dict[str, list[str]], region: Region | None) -> list[str]:
    ids = multi_values(params, "marketplaceIds")
    if not ids:
        raise invalid_input("Missing required parameter: marketplaceIds.")
    for mid in ids:
        mp = MARKETPLACES_BY_ID.get(mid)
        if mp is None or (region is not None and mp.region != region):
            raise invalid_input(f"Invalid marketplaceIds value: {mid}.")
        if mid not in seller.marketplace_ids:
            raise SandboxApiError(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                f"The seller does not participate in marketplace {mid}.",
            )
    return ids


def get_listings_item(
    state: SandboxState,
    seller: Seller,
    seller_id: str,
    sku: str,
    params: dict[str, list[str]],
    region: Region | None,
) -> dict[str, Any]:
    """getListingsItem: the reported quantity lags behind the accepted one."""
    _check_seller(seller, seller_id)
    mids = _marketplaces(seller, params, region)
    included = frozenset(multi_values(params, "includedData") or ["summaries"])
    unknown = included - LISTING_INCLUDED_DATA
    if unknown:
        raise invalid_input(f"Invalid includedData value: {sorted(unknown)[0]}.")
    listing = state.listings.get(f"{seller_id}|{sku}")
    offers = [listing.offers[m] for m in mids if listing and m in listing.offers]
    if listing is None or not offers:
        raise not_found(f"The requested SKU {sku} was not found for seller {seller_id}.")
    out: dict[str, Any] = {"sku": sku}
    if "summaries" in included:
        out["summaries"] = [
            {
                "marketplaceId": o.marketplace_id,
                "asin": o.asin,
                "productType": listing.product_type,
                "conditionType": "new_new",
                "status": ["BUYABLE", "DISCOVERABLE"] if o.quantity > 0 else ["DISCOVERABLE"],
                "itemName": listing.item_name,
                "createdDate": iso(o.created),
                "lastUpdatedDate": iso(o.updated),
            }
            for o in offers
        ]
    first = offers[0]
    if "attributes" in included:
        out["attributes"] = {
            **listing.attributes,
            "item_name": [{"value": listing.item_name, "marketplace_id": first.marketplace_id}],
            "fulfillment_availability": [
                {"fulfillment_channel_code": "DEFAULT", "quantity": first.written_quantity}
            ],
        }
    if "issues" in included:
        out["issues"] = []
    if "offers" in included:
        out["offers"] = [
            {
                "marketplaceId": o.marketplace_id,
                "offerType": "B2C",
                "price": {"currencyCode": o.currency, "amount": o.price},
            }
            for o in offers
        ]
    if "fulfillmentAvailability" in included:
        out["fulfillmentAvailability"] = [
            {"fulfillmentChannelCode": "DEFAULT", "quantity": first.quantity}
        ]
    return out


def _issue(code: str, message: str, attribute: str = "fulfillment_availability") -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "severity": "ERROR",
        "attributeNames": [attribute],
        "categories": ["INVALID_ATTRIBUTE"],
    }


def _check_patches(
    listing: Listing | None, sku: str, mids: list[str], patches: Any
) -> tuple[list[dict[str, Any]], int | None, dict[str, Any]]:
    """Validate JSON patches. Returns (issues, new DEFAULT quantity or None, other attributes)."""
    issues: list[dict[str, Any]] = []
    quantity: int | None = None
    others: dict[str, Any] = {}
    if listing is None or any(m not in listing.offers for m in mids):
        return (
            [_issue("4000001", f"SKU {sku} does not exist in the requested marketplace.", "sku")],
            None,
            {},
        )
    if listing.reject_reason:
        return [_issue("8541", listing.reject_reason, "sku")], None, {}
    for patch in patches:
        path = str(patch.get("path", ""))
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "attributes" or not parts[1]:
            issues.append(
                _issue(
                    "4000003",
                    f"The JSON Patch path {path!r} is not supported; "
                    "only top-level attributes can be patched.",
                    path,
                )
            )
            continue
        if path != FULFILLMENT_PATH:
            others[parts[1]] = patch.get("value")
            continue
        if patch.get("op") == "delete":
            quantity = 0
            continue
        entries = [e for e in (patch.get("value") or []) if isinstance(e, dict)]
        defaults = [e for e in entries if e.get("fulfillment_channel_code") == "DEFAULT"]
        if not entries or any("fulfillment_channel_code" not in e for e in entries):
            issues.append(
                _issue("90220", "'fulfillment_channel_code' is required but not supplied.")
            )
            continue
        for entry in defaults:
            value = entry.get("quantity")
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                issues.append(
                    _issue(
                        "4000002",
                        f"The value {value!r} of 'quantity' is not a non-negative whole number.",
                    )
                )
            else:
                quantity = value
    return issues, quantity, others


def _accept(
    state: SandboxState,
    listing: Listing,
    mids: list[str],
    quantity: int | None,
    others: dict[str, Any],
    *,
    apply_at: datetime,
    via: str,
    reference: str,
    now: datetime,
) -> None:
    listing.attributes.update(others)
    if quantity is None:
        return
    for mid in mids:
        offer = listing.offers[mid]
        offer.written_quantity = quantity
        offer.pending.append(PendingQuantity(quantity, apply_at, reference))
        state.pushes.append(
            PushRecord(listing.seller_id, listing.sku, mid, quantity, via, reference, now)
        )
    state.dirty = True


def patch_listings_item(
    state: SandboxState,
    seller: Seller,
    seller_id: str,
    sku: str,
    params: dict[str, list[str]],
    body: Any,
    now: datetime,
    region: Region | None,
) -> dict[str, Any]:
    """patchListingsItem: 200 ACCEPTED (applied later), INVALID with issues, or VALID (preview)."""
    _check_seller(seller, seller_id)
    mids = _marketplaces(seller, params, region)
    if (
        not isinstance(body, dict)
        or not body.get("productType")
        or not isinstance(body.get("patches"), list)
    ):
        raise invalid_input("The request body must have productType and patches.")
    patches = body["patches"]
    if not patches or not all(
        isinstance(p, dict)
        and p.get("op") in ("add", "replace", "merge", "delete")
        and p.get("path")
        for p in patches
    ):
        raise invalid_input("Each patch needs op (add, replace, merge, delete) and path.")
    listing = state.listings.get(f"{seller_id}|{sku}")
    issues, quantity, others = _check_patches(listing, sku, mids, patches)
    submission = uuid.uuid4().hex
    if issues or listing is None:
        return {"sku": sku, "status": "INVALID", "submissionId": submission, "issues": issues}
    if single(params, "mode") == "VALIDATION_PREVIEW":
        return {"sku": sku, "status": "VALID", "submissionId": submission, "issues": []}
    apply_at = now + timedelta(seconds=state.settings.listing_apply_delay_s)
    _accept(
        state,
        listing,
        mids,
        quantity,
        others,
        apply_at=apply_at,
        via="patch",
        reference=submission,
        now=now,
    )
    out: dict[str, Any] = {
        "sku": sku,
        "status": "ACCEPTED",
        "submissionId": submission,
        "issues": [],
    }
    if "identifiers" in multi_values(params, "includedData"):
        out["identifiers"] = [{"marketplaceId": m, "asin": listing.offers[m].asin} for m in mids]
    return out


# --- presigned documents ----------------------------------------------------------------------


def _signature(state: SandboxState, document_id: str, expires: str) -> str:
    return hmac.new(
        state.secret.encode(), f"{document_id}|{expires}".encode(), hashlib.sha256
    ).hexdigest()[:32]


def document_url(state: SandboxState, doc: Document, base_url: str) -> str:
    """A presigned URL of the document (valid until ``doc.expires_at``)."""
    expires = str(int(doc.expires_at.timestamp()))
    signature = _signature(state, doc.document_id, expires)
    return f"{base_url}/_s3/{doc.document_id}?Expires={expires}&X-Amz-Signature={signature}"


def check_presigned(
    state: SandboxState, document_id: str, query: dict[str, str], now: datetime
) -> Document:
    """The document behind a presigned URL; raises PermissionError like S3's 403 answers."""
    doc = state.documents.get(document_id)
    expires = query.get("Expires", "")
    if doc is None or not hmac.compare_digest(
        query.get("X-Amz-Signature", ""), _signature(state, document_id, expires)
    ):
        raise PermissionError("SignatureDoesNotMatch")
    if not expires.isdigit() or now.timestamp() > int(expires):
        raise PermissionError("Request has expired")
    return doc


def upload_document(state: SandboxState, doc: Document, content_type: str, content: bytes) -> None:
    """The PUT to a feed document's URL; the Content-Type must be the one declared."""

    def norm(value: str) -> str:
        return ";".join(p.strip().lower() for p in value.split(";"))

    if doc.kind != "feed_input":
        raise PermissionError("AccessDenied")
    if norm(content_type) != norm(doc.content_type):
        raise PermissionError("SignatureDoesNotMatch")
    doc.content_b64 = base64.b64encode(content).decode("ascii")
    state.dirty = True


def document_bytes(doc: Document) -> bytes:
    """The stored bytes of a document (compressed when ``compression`` says so)."""
    return base64.b64decode(doc.content_b64 or "")


def create_feed_document(
    state: SandboxState, seller: Seller, body: Any, now: datetime, base_url: str
) -> dict[str, Any]:
    """createFeedDocument: a document id and a presigned upload URL (5 minutes)."""
    if not isinstance(body, dict) or not body.get("contentType"):
        raise invalid_input("contentType is required.")
    doc = Document(
        document_id=f"amzn1.tortuga.4.na.{uuid.uuid4()}",
        seller_id=seller.seller_id,
        kind="feed_input",
        content_type=str(body["contentType"]),
        expires_at=now + timedelta(seconds=state.settings.document_url_ttl_s),
    )
    state.documents[doc.document_id] = doc
    state.dirty = True
    return {"feedDocumentId": doc.document_id, "url": document_url(state, doc, base_url)}


def _result_document(
    state: SandboxState, seller_id: str, report: dict[str, Any], now: datetime
) -> Document:
    doc = Document(
        document_id=f"amzn1.tortuga.4.na.{uuid.uuid4()}",
        seller_id=seller_id,
        kind="feed_result",
        content_type="application/json",
        expires_at=now,
        content_b64=base64.b64encode(gzip.compress(json.dumps(report).encode())).decode("ascii"),
        compression="GZIP",
    )
    state.documents[doc.document_id] = doc
    return doc


def get_feed_document(
    state: SandboxState, seller: Seller, document_id: str, now: datetime, base_url: str
) -> dict[str, Any]:
    """getFeedDocument: a fresh presigned download URL of a result document."""
    doc = state.documents.get(document_id)
    if doc is None or doc.seller_id != seller.seller_id:
        raise not_found(f"Feed document {document_id} was not found.")
    doc.expires_at = now + timedelta(seconds=state.settings.document_url_ttl_s)
    out = {"feedDocumentId": doc.document_id, "url": document_url(state, doc, base_url)}
    if doc.compression:
        out["compressionAlgorithm"] = doc.compression
    return out


# --- feeds ------------------------------------------------------------------------------------


def create_feed(
    state: SandboxState, seller: Seller, body: Any, now: datetime, region: Region | None
) -> dict[str, Any]:
    """createFeed: queue a feed whose document was uploaded."""
    if not isinstance(body, dict):
        raise invalid_input("The request body must be a CreateFeedSpecification object.")
    feed_type = body.get("feedType")
    mids = body.get("marketplaceIds")
    doc_id = body.get("inputFeedDocumentId")
    if not feed_type or not isinstance(mids, list) or not doc_id:
        raise invalid_input("feedType, marketplaceIds and inputFeedDocumentId are required.")
    if not 1 <= len(mids) <= 25:
        raise invalid_input("marketplaceIds must hold 1 to 25 values.")
    _marketplaces(seller, {"marketplaceIds": [",".join(str(m) for m in mids)]}, region)
    doc = state.documents.get(str(doc_id))
    if doc is None or doc.seller_id != seller.seller_id or doc.kind != "feed_input":
        raise invalid_input(f"Invalid inputFeedDocumentId {doc_id}.")
    if doc.content_b64 is None:
        raise invalid_input(f"The feed document {doc_id} has no content; upload it first.")
    feed = Feed(
        feed_id=str(50_000_000_000 + state.next_number()),
        seller_id=seller.seller_id,
        feed_type=str(feed_type),
        marketplace_ids=[str(m) for m in mids],
        input_document_id=doc.document_id,
        created=now,
    )
    state.feeds[feed.feed_id] = feed
    state.dirty = True
    return {"feedId": feed.feed_id}


def render_feed(feed: Feed) -> dict[str, Any]:
    """A Feed object."""
    out: dict[str, Any] = {
        "feedId": feed.feed_id,
        "feedType": feed.feed_type,
        "marketplaceIds": feed.marketplace_ids,
        "createdTime": iso(feed.created),
        "processingStatus": feed.status,
    }
    if feed.started:
        out["processingStartTime"] = iso(feed.started)
    if feed.ended:
        out["processingEndTime"] = iso(feed.ended)
    if feed.result_document_id:
        out["resultFeedDocumentId"] = feed.result_document_id
    return out


def get_feed(state: SandboxState, seller: Seller, feed_id: str) -> dict[str, Any]:
    """getFeed."""
    feed = state.feeds.get(feed_id)
    if feed is None or feed.seller_id != seller.seller_id:
        raise not_found(f"Feed {feed_id} was not found.")
    return render_feed(feed)


def cancel_feed(state: SandboxState, seller: Seller, feed_id: str) -> None:
    """cancelFeed: only a feed still IN_QUEUE can be cancelled."""
    feed = state.feeds.get(feed_id)
    if feed is None or feed.seller_id != seller.seller_id:
        raise not_found(f"Feed {feed_id} was not found.")
    if feed.status != "IN_QUEUE":
        raise invalid_input(f"Feed {feed_id} is {feed.status} and can no longer be cancelled.")
    feed.status = "CANCELLED"
    state.dirty = True


def progress_feed(state: SandboxState, feed: Feed, now: datetime) -> None:
    """Move a feed along IN_QUEUE -> IN_PROGRESS -> DONE/FATAL when its time has come."""
    start = feed.created + timedelta(seconds=state.settings.feed_queue_s)
    if now < start:
        return
    if feed.status == "IN_QUEUE":
        feed.status, feed.started = "IN_PROGRESS", start
        state.dirty = True
    end = start + timedelta(seconds=state.settings.feed_processing_s)
    if now < end:
        return
    report = _process_feed(state, feed, end)
    feed.ended = end
    feed.status = "FATAL" if report.get("fatal") else "DONE"
    report.pop("fatal", None)
    feed.result_document_id = _result_document(state, feed.seller_id, report, end).document_id
    state.dirty = True


def _process_feed(state: SandboxState, feed: Feed, end: datetime) -> dict[str, Any]:
    """Apply a JSON_LISTINGS_FEED and build its processing report (schema v2)."""
    header = {"sellerId": feed.seller_id, "version": "2.0", "feedId": feed.feed_id}

    def fatal(message: str) -> dict[str, Any]:
        return {
            "fatal": True,
            "header": header,
            "issues": [{"severity": "ERROR", "message": message}],
            "summary": {
                "errors": 1,
                "warnings": 0,
                "messagesProcessed": 0,
                "messagesAccepted": 0,
                "messagesInvalid": 0,
            },
        }

    if feed.feed_type != "JSON_LISTINGS_FEED":
        return fatal(f"The sandbox processes JSON_LISTINGS_FEED only, not {feed.feed_type}.")
    try:
        document = json.loads(document_bytes(state.documents[feed.input_document_id]))
    except (ValueError, KeyError):
        return fatal("The feed document is not valid JSON.")
    if not isinstance(document, dict) or not isinstance(document.get("header"), dict):
        return fatal("The feed document has no header.")
    doc_header = document["header"]
    if doc_header.get("version") != "2.0" or doc_header.get("sellerId") != feed.seller_id:
        return fatal("The feed header must carry version 2.0 and the seller's sellerId.")
    messages = document.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_FEED_MESSAGES:
        return fatal(f"A feed carries 1 to {MAX_FEED_MESSAGES} messages.")
    issues: list[dict[str, Any]] = []
    accepted = invalid = 0
    seen: set[int] = set()
    apply_at = end + timedelta(seconds=state.settings.listing_apply_delay_s)
    for message in messages:
        message_id = message.get("messageId") if isinstance(message, dict) else None
        sku = str(message.get("sku", "")) if isinstance(message, dict) else ""
        problems: list[str] = []
        if not isinstance(message_id, int) or isinstance(message_id, bool) or message_id < 1:
            problems.append("messageId must be a positive integer.")
        elif message_id in seen:
            problems.append(f"messageId {message_id} is not unique in the feed.")
        if not sku:
            problems.append("sku is required.")
        op = message.get("operationType") if isinstance(message, dict) else None
        if op != "PATCH":
            problems.append(
                "The sandbox applies PATCH messages only."
                if op in ("UPDATE", "PARTIAL_UPDATE", "DELETE")
                else "operationType must be UPDATE, PARTIAL_UPDATE, PATCH or DELETE."
            )
        elif (
            not message.get("productType")
            or not isinstance(message.get("patches"), list)
            or not message["patches"]
        ):
            problems.append("PATCH messages require productType and patches.")
        base: dict[str, Any] = (
            {"messageId": message_id} if isinstance(message_id, int) and message_id >= 1 else {}
        )
        if sku:
            base["sku"] = sku
        if problems:
            invalid += 1
            issues.extend(
                {**base, "code": "4000000", "severity": "ERROR", "message": p} for p in problems
            )
            continue
        seen.add(message_id)  # type: ignore[arg-type]
        listing = state.listings.get(f"{feed.seller_id}|{sku}")
        found, quantity, others = _check_patches(
            listing, sku, feed.marketplace_ids, message["patches"]
        )
        if found or listing is None:
            invalid += 1
            issues.extend(
                {
                    **base,
                    "code": i["code"],
                    "severity": "ERROR",
                    "message": i["message"],
                    "attributeName": i["attributeNames"][0],
                }
                for i in found
            )
            continue
        _accept(
            state,
            listing,
            feed.marketplace_ids,
            quantity,
            others,
            apply_at=apply_at,
            via="feed",
            reference=feed.feed_id,
            now=end,
        )
        accepted += 1
    return {
        "header": header,
        "issues": issues,
        "summary": {
            "errors": len(issues),
            "warnings": 0,
            "messagesProcessed": len(messages),
            "messagesAccepted": accepted,
            "messagesInvalid": invalid,
        },
    }
