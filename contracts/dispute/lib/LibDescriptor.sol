// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IStepErrors} from "../interfaces/IStepErrors.sol";

/// @notice One tensor of a node descriptor (`offchain/engine/descriptor.py`'s tensor block).
struct TensorDesc {
    /// 0 = input, 1 = weight, 2 = activation.
    uint256 kind;
    /// Input index, weight index or producing node index.
    uint256 index;
    /// Element width in bytes: 1, 2 or 4.
    uint256 width;
    /// Frac bits: real = q / 2^frac.
    int256 frac;
    /// The tensor is committed in chunks of 2^chunkLog2 bytes.
    uint256 chunkLog2;
    uint256[] shape;
}

/// @notice A decoded node descriptor.
struct NodeDesc {
    uint256 op;
    uint256 index;
    TensorDesc out;
    TensorDesc[] inputs;
    int256[] params;
}

/// @title LibDescriptor
/// @notice Decodes the canonical node descriptor: 32-byte big-endian words, laid out as documented in
///         `offchain/engine/descriptor.py` (version, op, index, n inputs, p params, output block, n input blocks,
///         p params; a tensor block is kind, index, dtype, frac, chunk_log2, rank, 6 dims).
library LibDescriptor {
    uint256 internal constant VERSION = 1;
    uint256 internal constant HEADER_WORDS = 5;
    uint256 internal constant MAX_RANK = 6;
    uint256 internal constant TENSOR_WORDS = 6 + MAX_RANK;
    uint256 internal constant KIND_INPUT = 0;
    uint256 internal constant KIND_WEIGHT = 1;
    uint256 internal constant KIND_ACTIVATION = 2;


    function decode(bytes calldata data) internal pure returns (NodeDesc memory d) {
        if (data.length % 32 != 0 || data.length < 32 * (HEADER_WORDS + TENSOR_WORDS)) {
            revert IStepErrors.MalformedDescriptor("length");
        }
        if (_word(data, 0) != VERSION) revert IStepErrors.MalformedDescriptor("version");
        d.op = _word(data, 1);
        d.index = _word(data, 2);
        uint256 n = _word(data, 3);
        uint256 p = _word(data, 4);
        if (n > 16 || p > 64 || data.length != 32 * (HEADER_WORDS + TENSOR_WORDS * (1 + n) + p)) {
            revert IStepErrors.MalformedDescriptor("counts");
        }
        d.out = _tensor(data, HEADER_WORDS);
        d.inputs = new TensorDesc[](n);
        for (uint256 k; k < n; ++k) {
            d.inputs[k] = _tensor(data, HEADER_WORDS + TENSOR_WORDS * (1 + k));
        }
        uint256 base = HEADER_WORDS + TENSOR_WORDS * (1 + n);
        d.params = new int256[](p);
        for (uint256 j; j < p; ++j) {
            d.params[j] = int256(_word(data, base + j));
        }
    }

    /// @dev Output layout only, without decoding the inputs: element count, width, chunk log2.
    function outputLayout(bytes calldata data) internal pure returns (uint256 numel, uint256 width, uint256 chunkLog2) {
        if (data.length < 32 * (HEADER_WORDS + TENSOR_WORDS)) revert IStepErrors.MalformedDescriptor("length");
        TensorDesc memory out = _tensor(data, HEADER_WORDS);
        return (numelOf(out), out.width, out.chunkLog2);
    }

    function numelOf(TensorDesc memory t) internal pure returns (uint256 n) {
        n = 1;
        for (uint256 i; i < t.shape.length; ++i) {
            n *= t.shape[i];
        }
    }

    function _tensor(bytes calldata data, uint256 w) private pure returns (TensorDesc memory t) {
        t.kind = _word(data, w);
        t.index = _word(data, w + 1);
        t.width = _word(data, w + 2);
        t.frac = int256(_word(data, w + 3));
        t.chunkLog2 = _word(data, w + 4);
        uint256 rank = _word(data, w + 5);
        if (t.kind > KIND_ACTIVATION) revert IStepErrors.MalformedDescriptor("kind");
        if (t.width != 1 && t.width != 2 && t.width != 4) revert IStepErrors.MalformedDescriptor("dtype");
        if (t.chunkLog2 < 5 || t.chunkLog2 > 20) revert IStepErrors.MalformedDescriptor("chunk_log2");
        if (rank > MAX_RANK) revert IStepErrors.MalformedDescriptor("rank");
        t.shape = new uint256[](rank);
        for (uint256 j; j < rank; ++j) {
            t.shape[j] = _word(data, w + 6 + j);
        }
    }

    function _word(bytes calldata data, uint256 k) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := calldataload(add(data.offset, mul(k, 32)))
        }
    }
}
