"""`ape run mint --network ... --account ... --collection ADDRESS --request-id N [--to ADDRESS]`: mint a finalized
oracle request's output as an ERC-7007 NFT of an AIGCCollection, paying its mint fee (which goes to the model's
ERC-7641 token).

Reads the request's input (the prompt) and finalized output from the oracle's events, mints, prints the token id
and writes what the on-chain tokenURI holds: the metadata JSON and, for an image collection, its SVG (and a PNG of
the pixels), and shows the image in the terminal.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from ape import project
from ape.cli import ConnectedProviderCommand, account_option
from rich.console import Console

from offchain.chain.art import ArtError, finalized_request, mint, svg_of, token_metadata
from offchain.image import terminal_image, write_png


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--collection", required=True, help="Address of the AIGCCollection (ERC-7007).")
@click.option("--request-id", type=click.IntRange(min=1), required=True, help="The finalized oracle request.")
@click.option("--to", default=None, help="Who receives the NFT (default: the account).")
@click.option("--from-block", type=click.IntRange(min=0), default=0, show_default=True,
              help="First block to scan for the request's events (on a long chain, the request's block).")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("art"), show_default=True,
              help="Where token-<request>.json/.svg/.png are written.")
def cli(provider, account, collection, request_id, to, from_block, out_dir):
    art = project.AIGCCollection.at(collection)
    try:
        mint_and_render(Console(), art, project.AIOracle.at(art.oracle()), request_id, to or account.address, account,
                        from_block, out_dir)
    except ArtError as exc:
        raise click.ClickException(str(exc)) from exc


def mint_and_render(console, art, oracle, request_id, to, account, from_block, out_dir: Path) -> int:
    """Mints request ``request_id`` in ``art`` to ``to`` (``account`` pays), writes the tokenURI's metadata (and an
    image collection's SVG and PNG) under ``out_dir`` and prints the token; returns the token id."""
    request = finalized_request(oracle, request_id, from_block)
    token_id, receipt = mint(art, request, to, account)
    console.print(f"minted token {token_id} (request {request_id}, model {request.model_id}) to {to}: paid "
                  f"{art.mintFee()} wei mint fee to {art.revenueToken()}, {receipt.gas_used} gas")
    metadata = token_metadata(art.tokenURI(token_id))
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"token-{request_id}"
    stem.with_suffix(".json").write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
    console.print(f"metadata: {stem.with_suffix('.json')}")
    layout = art.imageLayout()
    if layout.width == 0:
        return token_id
    stem.with_suffix(".svg").write_bytes(svg_of(metadata))
    write_png(stem.with_suffix(".png"), request.output, layout.width, layout.height, scale=16)
    traits = {a["trait_type"]: a["value"] for a in metadata["attributes"]}
    console.print(terminal_image(request.output, layout.width, layout.height), end="")
    console.print("prompt:", traits["prompt"], f"(seed {traits['seed']})", markup=False, highlight=False)
    console.print(f"svg: {stem.with_suffix('.svg')}, png: {stem.with_suffix('.png')}")
    return token_id
