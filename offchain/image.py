"""Grayscale images as the image model and the ERC-7007 collection see them: the request input's fields (zero-padded
UTF-8 prompt, then a big-endian seed; ``offchain.chain.encoding.image_request`` builds it), the pixel bytes (row-major, 0 black .. 255 white), a terminal rendering and a PNG.

Scripts and nodes import this module; it depends on nothing else in offchain/ (rich only for the terminal view).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text


class ImageError(ValueError):
    """Pixel bytes, a prompt or a seed that do not fit the image layout (the message names the value and limit)."""


@dataclass(frozen=True)
class ImageLayout:
    """AIGCCollection's ImageLayout: how a model's input and output are read. All zero: not an image model."""

    width: int = 0          # pixels per row
    height: int = 0         # rows
    prompt_bytes: int = 0   # zero-padded UTF-8 text at the start of the input
    seed_bytes: int = 0     # big-endian seed after the text

    def as_tuple(self) -> tuple[int, int, int, int]:
        """The constructor argument (a Solidity struct is passed as a tuple)."""
        return (self.width, self.height, self.prompt_bytes, self.seed_bytes)


#: A collection of non-image outputs (classifier labels, embeddings).
NOT_AN_IMAGE = ImageLayout()
#: The digits diffusion model: 8x8 pixels; input = 64 bytes of prompt + an 8-byte (uint64) seed.
DIGITS_IMAGE = ImageLayout(width=8, height=8, prompt_bytes=64, seed_bytes=8)


def parse_request(data: bytes, layout: ImageLayout = DIGITS_IMAGE) -> tuple[bytes, int]:
    """(text bytes up to the first zero, seed) of a request input, read zero-padded to the layout as the oracle
    and AIGCCollection.tokenURI read it."""
    if len(data) > layout.prompt_bytes + layout.seed_bytes:
        raise ImageError(f"input is {len(data)} bytes; the layout has {layout.prompt_bytes + layout.seed_bytes}")
    padded = data.ljust(layout.prompt_bytes + layout.seed_bytes, b"\x00")
    text = padded[: layout.prompt_bytes].split(b"\x00", 1)[0]
    return text, int.from_bytes(padded[layout.prompt_bytes:], "big")


def _check_pixels(pixels: bytes, width: int, height: int) -> None:
    if width < 1 or height < 1 or len(pixels) != width * height:
        raise ImageError(f"{len(pixels)} pixel bytes do not make a {width}x{height} image")


def terminal_image(pixels: bytes, width: int = 8, height: int = 8) -> Text:
    """The image for a rich console: two image rows per text row with the upper half block (foreground = upper
    pixel, background = lower pixel), each pixel two characters wide so it looks square."""
    _check_pixels(pixels, width, height)
    text = Text()
    for y in range(0, height, 2):
        for x in range(width):
            top = pixels[y * width + x]
            bottom = pixels[(y + 1) * width + x] if y + 1 < height else 0
            text.append("\u2580\u2580", style=f"rgb({top},{top},{top}) on rgb({bottom},{bottom},{bottom})")
        text.append("\n")
    return text


def png_bytes(pixels: bytes, width: int = 8, height: int = 8, scale: int = 1) -> bytes:
    """An 8-bit grayscale PNG of the image, each pixel a ``scale`` x ``scale`` block (stdlib zlib only)."""
    _check_pixels(pixels, width, height)
    if scale < 1:
        raise ImageError(f"scale {scale} must be at least 1")
    rows = b"".join(
        b"\x00" + bytes(v for v in pixels[y * width:(y + 1) * width] for _ in range(scale))   # filter 0: None
        for y in range(height) for _ in range(scale)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width * scale, height * scale, 8, 0, 0, 0, 0)   # 8-bit gray, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def write_png(path: str | Path, pixels: bytes, width: int = 8, height: int = 8, scale: int = 1) -> Path:
    """Writes :func:`png_bytes` to ``path``; returns it."""
    path = Path(path)
    path.write_bytes(png_bytes(pixels, width, height, scale))
    return path
