// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibIntMath} from "../lib/LibIntMath.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title ActivationOps
/// @notice GELU (params (0,) erf form, (1,) tanh form), SILU, TANH, SIGMOID and SOFTPLUS, mirroring
///         offchain/engine/ops/activation.py: out[e] = intmath gelu / gelu_tanh / silu / tanh / sigmoid /
///         softplus (x[e], fx, fo, out dtype), with 0 <= fx <= 24 and 0 <= fo <= 30. One output element reads
///         one input element.
contract ActivationOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant GELU = 8;
    uint256 internal constant SILU = 9;
    uint256 internal constant TANH = 27;
    uint256 internal constant SIGMOID = 28;
    uint256 internal constant SOFTPLUS = 33;

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
        return (0, e, 1);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256) external pure returns (int256) {
        (uint256 fIn, uint256 fOut) = _check(d);
        int256 x = _m(operands[0]).at(0);
        if (d.op == SILU) return LibIntMath.silu(x, fIn, fOut, d.out.width);
        if (d.op == TANH) return LibIntMath.tanh(x, fIn, fOut, d.out.width);
        if (d.op == SIGMOID) return LibIntMath.sigmoid(x, fIn, fOut, d.out.width);
        if (d.op == SOFTPLUS) return LibIntMath.softplus(x, fIn, fOut, d.out.width);
        if (d.params[0] == 0) return LibIntMath.gelu(x, fIn, fOut, d.out.width);
        return LibIntMath.geluTanh(x, fIn, fOut, d.out.width);
    }

    /// @dev The op, its params and the frac bits the intmath references accept; returns (fIn, fOut).
    function _check(NodeDesc calldata d) internal pure returns (uint256, uint256) {
        if (d.op != GELU && d.op != SILU && d.op != TANH && d.op != SIGMOID && d.op != SOFTPLUS) {
            revert UnsupportedOp(d.op);
        }
        _expectInputs(d, 1, 1);
        if (d.op == GELU) {
            if (d.params.length != 1 || (d.params[0] != 0 && d.params[0] != 1)) revert BadNode("gelu form");
        } else if (d.params.length != 0) {
            revert BadNode("param count");
        }
        int256 fIn = d.inputs[0].frac;
        int256 fOut = d.out.frac;
        if (fIn < 0 || fIn > LibIntMath.FRAC_IN_MAX) revert BadNode("f_in outside [0, 24]");
        if (fOut < 0 || fOut > LibIntMath.FRAC_OUT_MAX) revert BadNode("f_out outside [0, 30]");
        return (uint256(fIn), uint256(fOut));
    }
}
