// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title LibJsonString
/// @notice Turns arbitrary bytes into the body of a JSON string (without the quotes) that decodes to the bytes read
///         as UTF-8 with ill-formed sequences replaced: exactly Python's `data.decode("utf-8", "replace")`.
///         - Well-formed UTF-8 (Unicode Table 3-7: no overlongs, no surrogates, at most U+10FFFF) is copied.
///         - Each maximal subpart of an ill-formed sequence becomes one U+FFFD (EF BF BD), the Unicode
///           "substitution of maximal subparts" practice: a valid lead byte followed by valid continuation bytes
///           that stop early is one U+FFFD, and decoding resumes at the byte that broke it; any other bad byte
///           (80..C1, F5..FF) is one U+FFFD on its own.
///         - `"` becomes `\"`, `\` becomes `\\`, and bytes 00..1F become `\u00XX`; everything else is literal.
library LibJsonString {
    bytes16 private constant HEX = "0123456789abcdef";

    /// @notice The escaped JSON string body of `data` (see the library notice). At most 6 bytes per input byte.
    function escape(bytes memory data) internal pure returns (bytes memory out) {
        out = new bytes(data.length * 6);
        uint256 n = data.length;
        uint256 o;
        uint256 i;
        while (i < n) {
            uint8 b = uint8(data[i]);
            if (b < 0x80) {
                if (b < 0x20) {
                    out[o] = "\\";
                    out[o + 1] = "u";
                    out[o + 2] = "0";
                    out[o + 3] = "0";
                    out[o + 4] = HEX[b >> 4];
                    out[o + 5] = HEX[b & 15];
                    o += 6;
                } else {
                    if (b == 0x22 || b == 0x5c) out[o++] = "\\";
                    out[o++] = bytes1(b);
                }
                ++i;
                continue;
            }
            uint256 good = _wellFormedPrefix(data, i);
            uint256 size = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
            if (good == size) {
                for (uint256 k; k < size; ++k) {
                    out[o++] = data[i + k];
                }
                i += size;
            } else {
                out[o] = 0xEF;
                out[o + 1] = 0xBF;
                out[o + 2] = 0xBD;
                o += 3;
                // The maximal subpart: the lead and its valid continuations, or one bad byte.
                i += good == 0 ? 1 : good;
            }
        }
        // Shrinks `out` to what was written (o <= 6 * n: at most 6 bytes per consumed byte).
        assembly ("memory-safe") {
            mstore(out, o)
        }
    }

    /// @dev For a byte >= 0x80 at `i`: 0 if it cannot start a sequence, else 1 + the number of continuation bytes
    ///      after it that are allowed by Unicode Table 3-7 (stopping at the first that is not, or at the end).
    function _wellFormedPrefix(bytes memory data, uint256 i) private pure returns (uint256) {
        uint8 b = uint8(data[i]);
        uint256 size;
        uint8 lo = 0x80;
        uint8 hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            size = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            size = 3;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            size = 4;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        } else {
            return 0;
        }
        uint256 k = 1;
        while (k < size && i + k < data.length) {
            uint8 c = uint8(data[i + k]);
            if (c < lo || c > hi) break;
            // Only the second byte has the narrowed range.
            lo = 0x80;
            hi = 0xBF;
            ++k;
        }
        return k;
    }
}
