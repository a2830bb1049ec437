"""ERC-7007 art from finalized oracle requests: read a request's input and finalized output back from the oracle's
events, mint them in an AIGCCollection, and decode the collection's on-chain tokenURI.

`ape run mint` is a thin CLI over these functions; they take ape contract instances and accounts, so they work on
any network ape is connected to.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from offchain.dispute.responder import event_logs

JSON_URI = "data:application/json;base64,"
SVG_URI = "data:image/svg+xml;base64,"


class ArtError(Exception):
    """A request cannot be minted (not finalized, its bytes not found in the oracle's events) or a tokenURI is not
    the collection's data-URI JSON."""


@dataclass(frozen=True)
class FinalizedRequest:
    """A finalized request as AIGCCollection.mint takes it: prompt = the request's input, aigc data = its output."""

    request_id: int
    model_id: int
    prompt: bytes
    output: bytes

    @property
    def proof(self) -> bytes:
        """AIGCCollection's proof: abi.encode(uint256 requestId)."""
        return encode(["uint256"], [self.request_id])


def finalized_request(oracle: Any, request_id: int, start_block: int = 0) -> FinalizedRequest:
    """The input and output of a finalized request of ``oracle`` (an AIOracle), from its AICallbackRequest and
    ResultSubmitted events at or after ``start_block``, checked against the hashes ``finalizedResult`` returns.
    Raises ArtError when the request is not finalized or its bytes are not in the scanned events."""
    try:
        model_id, input_hash, output_hash = oracle.finalizedResult(request_id)
    except Exception as exc:  # noqa: BLE001 - ape raises its ContractLogicError subclass for the revert
        raise ArtError(f"request {request_id} is not finalized on oracle {oracle.address}: {exc}") from exc
    inputs = [bytes(log.input) for log in event_logs(oracle.AICallbackRequest, start_block, requestId=request_id)]
    prompt = next((data for data in inputs if keccak(data) == bytes(input_hash)), None)
    if prompt is None:
        raise ArtError(f"no AICallbackRequest event of request {request_id} from block {start_block} has its input "
                       f"(hash {bytes(input_hash).hex()}); a batch request's items cannot be minted")
    outputs = [bytes(log.output) for log in event_logs(oracle.ResultSubmitted, start_block, requestId=request_id)]
    output = next((data for data in outputs if keccak(data) == bytes(output_hash)), None)
    if output is None:
        raise ArtError(f"no ResultSubmitted event of request {request_id} from block {start_block} has its "
                       f"finalized output (hash {bytes(output_hash).hex()})")
    return FinalizedRequest(request_id, int(model_id), prompt, output)


def mint(collection: Any, request: FinalizedRequest, to: str, sender: Any) -> tuple[int, Any]:
    """Mints ``request``'s output to ``to``, paying the collection's mint fee from ``sender``: (token id, receipt).
    Checks ``verify`` first, so a request the collection would refuse fails before a transaction is paid for."""
    if not collection.verify(request.prompt, request.output, request.proof):
        raise ArtError(f"collection {collection.address} (model {collection.modelId()}) does not accept request "
                       f"{request.request_id} of model {request.model_id}: wrong model, or an image layout that does "
                       f"not fit its {len(request.prompt)}-byte input / {len(request.output)}-byte output")
    receipt = collection.mint(to, request.prompt, request.output, request.proof, sender=sender,
                              value=collection.mintFee())
    return int(receipt.return_value), receipt


def token_metadata(uri: str) -> dict:
    """The JSON of an AIGCCollection tokenURI (``data:application/json;base64,...``)."""
    if not uri.startswith(JSON_URI):
        raise ArtError(f"tokenURI is not a base64 JSON data URI: {uri[:40]!r}...")
    return json.loads(base64.b64decode(uri[len(JSON_URI):], validate=True).decode("utf-8"))


def svg_of(metadata: dict) -> bytes:
    """The SVG document of an image token's metadata."""
    image = metadata.get("image")
    if image is None:
        raise ArtError("the metadata has no image: the collection is not an image collection")
    if not image.startswith(SVG_URI):
        raise ArtError(f"image is not a base64 SVG data URI: {image[:40]!r}...")
    return base64.b64decode(image[len(SVG_URI):], validate=True)
