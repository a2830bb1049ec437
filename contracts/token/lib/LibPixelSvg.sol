// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @title LibPixelSvg
/// @notice Renders a grayscale image (one byte per pixel, row-major, 0 = black .. 255 = white) as an SVG document:
///         viewBox "0 0 width height", `shape-rendering="crispEdges"`, one <rect> per horizontal run of equal
///         bytes in a row (a flat background costs one rect per row), fill #vvvvvv. The document is written into
///         one buffer sized for the worst case (every pixel its own run), so memory grows linearly with the pixels.
library LibPixelSvg {
    /// @dev Displayed size of one image pixel, in CSS pixels (the viewBox scales it; crispEdges keeps blocks sharp).
    uint256 internal constant DISPLAY_SCALE = 32;
    /// @dev Upper bound of one rect's bytes for sides below 1000 (3-digit x, y, width):
    ///      `<rect x="999" y="999" width="999" height="1" fill="#ffffff"/>` is 59 bytes.
    uint256 internal constant MAX_RECT_BYTES = 59;
    /// @dev Upper bound of the header's bytes (two 3-digit sides, two 5-digit display sizes) and the footer's.
    uint256 internal constant MAX_FRAME_BYTES = 160;

    bytes16 private constant HEX = "0123456789abcdef";

    /// @dev A piece would end at `end`, past the buffer's `capacity` (unreachable while MAX_* bound the pieces).
    error SvgBufferOverflow(uint256 end, uint256 capacity);

    /// @notice The SVG of `pixels` (width * height bytes, row-major). Callers check the length and that both sides
    ///         are in 1..999.
    function render(bytes memory pixels, uint256 width, uint256 height) internal pure returns (bytes memory svg) {
        svg = new bytes(MAX_FRAME_BYTES + pixels.length * MAX_RECT_BYTES);
        uint256 end = _append(
            svg,
            0,
            abi.encodePacked(
                '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ',
                Strings.toString(width),
                " ",
                Strings.toString(height),
                '" width="',
                Strings.toString(width * DISPLAY_SCALE),
                '" height="',
                Strings.toString(height * DISPLAY_SCALE),
                '" shape-rendering="crispEdges">'
            )
        );
        for (uint256 y; y < height; ++y) {
            uint256 row = y * width;
            uint256 x;
            while (x < width) {
                bytes1 value = pixels[row + x];
                uint256 run = 1;
                while (x + run < width && pixels[row + x + run] == value) ++run;
                end = _append(svg, end, _rect(x, y, run, uint8(value)));
                x += run;
            }
        }
        end = _append(svg, end, "</svg>");
        // Shrinks the buffer to what was written (end <= the allocated length, checked by every _append).
        assembly ("memory-safe") {
            mstore(svg, end)
        }
    }

    function _rect(uint256 x, uint256 y, uint256 run, uint8 value) private pure returns (bytes memory) {
        bytes2 gray = bytes2(uint16(uint8(HEX[value >> 4])) << 8 | uint16(uint8(HEX[value & 15])));
        return abi.encodePacked(
            '<rect x="',
            Strings.toString(x),
            '" y="',
            Strings.toString(y),
            '" width="',
            Strings.toString(run),
            '" height="1" fill="#',
            gray,
            gray,
            gray,
            '"/>'
        );
    }

    /// @dev Copies `piece` into `buffer` at `at`; returns the new end. Reverts past the buffer's end.
    function _append(bytes memory buffer, uint256 at, bytes memory piece) private pure returns (uint256 end) {
        end = at + piece.length;
        // INVARIANT: Writes stay inside the buffer allocated for the worst case.
        if (end > buffer.length) revert SvgBufferOverflow(end, buffer.length);
        // Safe: [at, end) lies inside `buffer`'s allocation (checked above); mcopy reads `piece` only.
        assembly ("memory-safe") {
            mcopy(add(add(buffer, 0x20), at), add(piece, 0x20), mload(piece))
        }
    }
}
