// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {LibShape} from "../lib/LibShape.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title ElementwiseOps
/// @notice ADD, SUB and MUL with numpy broadcasting, mirroring offchain/engine/ops/elementwise.py: one output
///         element reads one element of each input.
///         ADD/SUB: out = rescale((a << (fc - fa)) +/- (b << (fc - fb)), fc - fo) with fc = max(fa, fb).
///         MUL:     out = rescale(a * b, fa + fb - fo).
contract ElementwiseOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant ADD = 4;
    uint256 internal constant SUB = 5;
    uint256 internal constant MUL = 6;
    /// Largest frac difference ADD/SUB align by shifting (`elementwise.py::MAX_ALIGN_SHIFT`).
    int256 internal constant MAX_ALIGN_SHIFT = 30;

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return 2;
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (r > 1) revert BadNode("range index");
        uint256[] memory multi = LibShape.unravel(e, d.out.shape);
        return (r, LibShape.broadcastIndex(multi, d.inputs[r].shape), 1);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256) external pure returns (int256) {
        _check(d);
        int256 a = _m(operands[0]).at(0);
        int256 b = _m(operands[1]).at(0);
        if (d.op == MUL) return LibFixed.rescale(a * b, _productShift(d, 0, 1), d.out.width);
        int256 fa = d.inputs[0].frac;
        int256 fb = d.inputs[1].frac;
        int256 fc = fa > fb ? fa : fb;
        // Both shifts are >= 0 by the choice of fc; the cap keeps (int32 << 30) * 2 far inside int256.
        if (fc - fa > MAX_ALIGN_SHIFT || fc - fb > MAX_ALIGN_SHIFT) revert BadNode("frac bits differ by > 30");
        int256 sa = a << uint256(fc - fa);
        int256 sb = b << uint256(fc - fb);
        return LibFixed.rescale(d.op == ADD ? sa + sb : sa - sb, fc - d.out.frac, d.out.width);
    }

    function _check(NodeDesc calldata d) internal pure {
        if (d.op != ADD && d.op != SUB && d.op != MUL) revert UnsupportedOp(d.op);
        _expectInputs(d, 2, 2);
    }
}
