// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibRow} from "../lib/LibRow.sol";
import {Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title ReduceOps
/// @notice Reductions over the last axis; one output element reads one contiguous row.
///         MEAN mirrors offchain/engine/ops/reduce.py: params (mult, k), out = rescale(mult * sum_j x[.., j],
///         k + fx - fo). AMAX mirrors offchain/engine/ops/pool.py: no params, out = max_j x[.., j], same width and
///         frac as x.
contract ReduceOps is OperatorBase {
    uint256 internal constant MEAN = 21;
    uint256 internal constant AMAX = 36;
    /// `reduce.py::MAX_MEAN_K`: the reciprocal's frac bits; mult < 2^(MAX_MEAN_K + 1).
    int256 internal constant MAX_MEAN_K = 40;

    function rangeCount(NodeDesc calldata d, uint256) external pure returns (uint256) {
        _check(d);
        return 1;
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        _check(d);
        if (r != 0) revert BadNode("range index");
        uint256 n = _dim(d.inputs[0], 0);
        return (0, e * n, n);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256) external pure returns (int256) {
        _check(d);
        if (d.op == AMAX) return LibRow.maxPrefix(_m(operands[0]), _dim(d.inputs[0], 0));
        int256 acc = LibRow.sum(_m(operands[0])) * d.params[0];
        return LibFixed.rescale(acc, d.params[1] + _copyShift(d, 0), d.out.width);
    }

    function _check(NodeDesc calldata d) internal pure {
        if (d.op == AMAX) {
            _expectInputs(d, 1, 1);
            if (d.params.length != 0) revert BadNode("param count");
            // INVARIANT: AMAX keeps its input's element width and frac, over a last axis of at least one element.
            if (d.out.width != d.inputs[0].width || d.out.frac != d.inputs[0].frac) revert BadNode("amax output scale");
            if (_dim(d.inputs[0], 0) == 0) revert BadNode("empty row");
            return;
        }
        if (d.op != MEAN) revert UnsupportedOp(d.op);
        _expectInputs(d, 1, 1);
        if (d.params.length != 2) revert BadNode("param count");
        (int256 mult, int256 k) = (d.params[0], d.params[1]);
        if (k < 0 || k > MAX_MEAN_K || mult < 0 || mult >= int256(1) << uint256(MAX_MEAN_K + 1)) {
            revert BadNode("mean mult/k");
        }
    }
}
