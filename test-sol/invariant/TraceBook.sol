// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {LibMerkle} from "../../contracts/dispute/lib/LibMerkle.sol";
import {ToyDescriptor, TruthTable} from "./TableProver.sol";

/// @notice A toy model: per node, its output's element count, element width and chunk size.
struct Shape {
    uint256 modelId;
    uint256 tag;
    uint256[] numel;
    uint256[] width;
    uint256[] chunkLog2;
}

/// @notice How a claimed trace departs from the truth table (kind NONE: it does not).
struct Fault {
    uint256 kind;
    uint256 node;
    uint256 pos;
    bytes32 salt;
}

/// @notice Builds the honest and faulty execution traces of toy models the way a submitter commits to them:
///         leaves are keccak256 of chunks, trees are LibMerkle's (padding leaves 0), so every root, revealed child
///         and proof matches what DisputeGame checks. Full leaf arrays (padding included) let a fault sit in the
///         padding too. Stateless; deployed beside the handler to keep the handler under the code size limit.
contract TraceBook {
    uint256 public constant NONE = 0;
    /// One element of one node differs from the table (the step proves it).
    uint256 public constant ELEMENT = 1;
    /// A nonzero byte in the zero padding of a node's last chunk (the step on a padding element proves it).
    uint256 public constant CHUNK_PADDING = 2;
    /// A nonzero leaf in the padding of a node's chunk tree (`pick` into padding proves it).
    uint256 public constant TENSOR_PADDING = 3;
    /// A nonzero leaf in the padding of the trace tree.
    uint256 public constant TRACE_PADDING = 4;
    /// A node root with no known preimage: the submitter cannot reveal below it and loses on time.
    uint256 public constant UNREVEALABLE = 5;
    uint256 public constant KINDS = 6;

    function nodeCount(Shape calldata s) public pure returns (uint256) {
        return s.numel.length;
    }

    function chunkCount(Shape calldata s, uint256 node) public pure returns (uint256) {
        uint256 size = uint256(1) << s.chunkLog2[node];
        return (s.numel[node] * s.width[node] + size - 1) / size;
    }

    function descriptor(Shape calldata s, uint256 node) public pure returns (bytes memory) {
        return abi.encode(ToyDescriptor(s.tag, node, s.numel[node], s.width[node], s.chunkLog2[node]));
    }

    /// @notice Whether `fault` changes the trace at all for this shape (otherwise the claim is honest).
    function applies(Shape calldata s, Fault calldata f) public pure returns (bool) {
        if (f.kind == NONE || f.node >= s.numel.length) return false;
        uint256 n = s.numel[f.node] * s.width[f.node];
        uint256 cc = chunkCount(s, f.node);
        if (f.kind == ELEMENT) return s.numel[f.node] != 0;
        if (f.kind == CHUNK_PADDING) return cc * (uint256(1) << s.chunkLog2[f.node]) > n;
        if (f.kind == TENSOR_PADDING) return cc > 1 && (uint256(1) << LibMerkle.depth(cc)) > cc;
        if (f.kind == TRACE_PADDING) return (uint256(1) << LibMerkle.depth(s.numel.length)) > s.numel.length;
        return f.kind == UNREVEALABLE;
    }

    /// @notice Node `node`'s claimed output, chunk-padded: the table's bytes with `f` applied.
    function tensorBytes(Shape calldata s, bytes32 inputRoot, Fault calldata f, uint256 node)
        public
        pure
        returns (bytes memory buf)
    {
        uint256 n = s.numel[node] * s.width[node];
        uint256 size = uint256(1) << s.chunkLog2[node];
        uint256 total = chunkCount(s, node) * size;
        buf = new bytes(total);
        for (uint256 k; k * 32 < n; ++k) {
            bytes32 w = TruthTable.word(inputRoot, node, k);
            assembly ("memory-safe") {
                mstore(add(add(buf, 0x20), mul(k, 32)), w)
            }
        }
        for (uint256 i = n; i < total; ++i) {
            buf[i] = 0; // the word stores above may run past the tensor's end
        }
        if (f.node != node) return buf;
        if (f.kind == ELEMENT && s.numel[node] != 0) {
            uint256 width = s.width[node];
            uint256 flat = f.pos % s.numel[node];
            uint256 mask = (uint256(1) << (8 * width)) - 1;
            uint256 delta = 1 + (uint256(f.salt) % mask);
            uint256 v = TruthTable.raw(inputRoot, node, flat, width) ^ delta;
            for (uint256 b; b < width; ++b) {
                buf[flat * width + b] = bytes1(uint8(v >> (8 * (width - 1 - b))));
            }
        } else if (f.kind == CHUNK_PADDING && total > n) {
            buf[n + f.pos % (total - n)] = bytes1(uint8(1 + uint256(f.salt) % 255));
        }
    }

    /// @notice The claimed output of the model (its last node), unpadded: what a submitter posts to the oracle.
    function output(Shape calldata s, bytes32 inputRoot, Fault calldata f) external pure returns (bytes memory out) {
        uint256 last = s.numel.length - 1;
        bytes memory buf = tensorBytes(s, inputRoot, f, last);
        out = new bytes(s.numel[last] * s.width[last]);
        for (uint256 i; i < out.length; ++i) {
            out[i] = buf[i];
        }
    }

    function chunk(Shape calldata s, bytes32 inputRoot, Fault calldata f, uint256 node, uint256 index)
        external
        pure
        returns (bytes memory c)
    {
        bytes memory buf = tensorBytes(s, inputRoot, f, node);
        uint256 size = uint256(1) << s.chunkLog2[node];
        c = new bytes(size);
        for (uint256 i; i < size; ++i) {
            c[i] = buf[index * size + i];
        }
    }

    /// @notice The full leaf array (2^depth, padding included) of node `node`'s chunk tree.
    function tensorLeaves(Shape calldata s, bytes32 inputRoot, Fault calldata f, uint256 node)
        public
        pure
        returns (bytes32[] memory leaves)
    {
        uint256 cc = chunkCount(s, node);
        if (cc == 0) return leaves;
        bytes memory buf = tensorBytes(s, inputRoot, f, node);
        uint256 size = uint256(1) << s.chunkLog2[node];
        leaves = new bytes32[](uint256(1) << LibMerkle.depth(cc));
        for (uint256 c; c < cc; ++c) {
            bytes32 h;
            assembly ("memory-safe") {
                h := keccak256(add(add(buf, 0x20), mul(c, size)), size)
            }
            leaves[c] = h;
        }
        if (f.kind == TENSOR_PADDING && f.node == node && leaves.length > cc) {
            leaves[cc + f.pos % (leaves.length - cc)] = f.salt;
        }
    }

    /// @notice Node `node`'s claimed output tensor root (the trace tree's leaf).
    function nodeRoot(Shape calldata s, bytes32 inputRoot, Fault calldata f, uint256 node)
        public
        pure
        returns (bytes32)
    {
        if (f.kind == UNREVEALABLE && f.node == node) return keccak256(abi.encode("no preimage", f.salt));
        if (chunkCount(s, node) == 0) return keccak256("");
        bytes32[] memory leaves = tensorLeaves(s, inputRoot, f, node);
        return subtree(leaves, LibMerkle.depth(leaves.length), 0, 0);
    }

    /// @notice The full leaf array (2^depth) of the claimed trace tree: every node's output root, then padding.
    function traceLeaves(Shape calldata s, bytes32 inputRoot, Fault calldata f)
        public
        pure
        returns (bytes32[] memory leaves)
    {
        uint256 count = s.numel.length;
        leaves = new bytes32[](uint256(1) << LibMerkle.depth(count));
        for (uint256 i; i < count; ++i) {
            leaves[i] = nodeRoot(s, inputRoot, f, i);
        }
        if (f.kind == TRACE_PADDING && leaves.length > count) {
            leaves[count + f.pos % (leaves.length - count)] = f.salt;
        }
    }

    function graphLeaves(Shape calldata s) public pure returns (bytes32[] memory leaves) {
        uint256 count = s.numel.length;
        leaves = new bytes32[](uint256(1) << LibMerkle.depth(count));
        for (uint256 i; i < count; ++i) {
            leaves[i] = keccak256(descriptor(s, i));
        }
    }

    /// @notice Hash of the node at `level` (0 = root) and `index` of the tree over a full leaf array of 2^d leaves.
    function subtree(bytes32[] memory leaves, uint256 d, uint256 level, uint256 index)
        public
        pure
        returns (bytes32 hash)
    {
        uint256 span = uint256(1) << (d - level);
        bytes32[] memory part = new bytes32[](span);
        for (uint256 i; i < span; ++i) {
            part[i] = leaves[index * span + i];
        }
        (hash,) = LibMerkle.hashUp(part);
    }

    /// @notice The 2^levels children, `levels` below node (level, index), as the submitter reveals them.
    function children(bytes32[] memory leaves, uint256 level, uint256 index, uint256 levels)
        public
        pure
        returns (bytes32[] memory out)
    {
        uint256 d = LibMerkle.depth(leaves.length);
        out = new bytes32[](uint256(1) << levels);
        for (uint256 c; c < out.length; ++c) {
            out[c] = subtree(leaves, d, level + levels, (index << levels) + c);
        }
    }

    /// @notice Bottom-up siblings of leaf `index` (LibMerkle.verifyLeaf's proof).
    function proof(bytes32[] memory leaves, uint256 index) public pure returns (bytes32[] memory siblings) {
        uint256 d = LibMerkle.depth(leaves.length);
        siblings = new bytes32[](d);
        for (uint256 h; h < d; ++h) {
            siblings[h] = subtree(leaves, d, d - h, (index >> h) ^ 1);
        }
    }

    function root(bytes32[] memory leaves) public pure returns (bytes32) {
        return subtree(leaves, LibMerkle.depth(leaves.length), 0, 0);
    }
}
