// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {LibRow} from "../lib/LibRow.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title ConvOps
/// @notice CONV2D (NCHW, zero padding, groups 1), mirroring offchain/engine/ops/conv.py: x [B, C, H, W],
///         W [O, C, KH, KW], optional int32 bias [O]; params (stride_h, stride_w, pad_h, pad_w).
///         out[b, o, y, x] = rescale(sum_{c,ky,kx} xpad[b, c, y sh + ky, x sw + kx] W[o, c, ky, kx] + b[o],
///                                   fx + fw - fo).
///         Ranges: W[o] (one block), the bias element, then per (c, ky) whose input row lies inside the image
///         the in-image run of x columns, c-major (padding reads are zeros and are not proved).
contract ConvOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant CONV2D = 2;

    /// @dev Where output element e's receptive field lies. Valid kernel rows are ky0 <= ky < ky0 + nky, and
    ///      every one of them reads input columns [lo, hi) (empty, nky = 0, when the field misses the image).
    struct Window {
        uint256 b;
        uint256 o;
        int256 y0;
        int256 x0;
        uint256 lo;
        uint256 hi;
        uint256 ky0;
        uint256 nky;
    }

    function rangeCount(NodeDesc calldata d, uint256 e) external pure returns (uint256) {
        Window memory w = _window(d, e);
        return _firstRun(d) + d.inputs[0].shape[1] * w.nky;
    }

    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        Window memory w = _window(d, e);
        if (r == 0) {
            uint256 kernel = d.inputs[1].shape[1] * d.inputs[1].shape[2] * d.inputs[1].shape[3];
            return (1, w.o * kernel, kernel);
        }
        uint256 first = _firstRun(d);
        if (r < first) return (2, w.o, 1);
        return _run(d, w, r - first);
    }

    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        Window memory w = _window(d, e);
        uint256 first = _firstRun(d);
        uint256 channels = d.inputs[0].shape[1];
        if (operands.length != first + channels * w.nky) revert BadNode("operand count");
        Operand memory weights = _m(operands[0]);
        int256 acc = first == 2 ? _m(operands[1]).at(0) : int256(0);
        uint256 kh = d.inputs[1].shape[2];
        uint256 kw = d.inputs[1].shape[3];
        // Offset of the first in-image column inside a kernel row: lo - x0 >= 0.
        uint256 kx0 = uint256(int256(w.lo) - w.x0);
        for (uint256 q; q < channels * w.nky; ++q) {
            uint256 base = ((q / w.nky) * kh + w.ky0 + q % w.nky) * kw + kx0;
            acc += LibRow.dotSliceCalldata(operands[first + q], weights, base, w.hi - w.lo);
        }
        return LibFixed.rescale(acc, _productShift(d, 0, 1), d.out.width);
    }

    /// @dev Range of x run q: channel q / nky, kernel row ky0 + q % nky, columns [lo, hi).
    function _run(NodeDesc calldata d, Window memory w, uint256 q) internal pure returns (uint256, uint256, uint256) {
        uint256 channels = d.inputs[0].shape[1];
        if (q >= channels * w.nky) revert BadNode("range index");
        // iy = y0 + ky >= 0 for every valid ky, by the choice of ky0.
        uint256 iy = uint256(w.y0 + int256(w.ky0 + q % w.nky));
        uint256 row = (w.b * channels + q / w.nky) * d.inputs[0].shape[2] + iy;
        return (0, row * d.inputs[0].shape[3] + w.lo, w.hi - w.lo);
    }

    /// @dev Index of the first x run among the ranges: after W and the optional bias.
    function _firstRun(NodeDesc calldata d) internal pure returns (uint256) {
        return d.inputs.length == 3 ? 2 : 1;
    }

    function _window(NodeDesc calldata d, uint256 e) internal pure returns (Window memory w) {
        if (d.op != CONV2D) revert UnsupportedOp(d.op);
        _expectInputs(d, 2, 3);
        if (d.params.length != 4 || d.inputs[0].shape.length != 4 || d.inputs[1].shape.length != 4) {
            revert BadNode("conv params/rank");
        }
        if (d.params[0] < 1 || d.params[1] < 1 || d.params[2] < 0 || d.params[3] < 0) {
            revert BadNode("conv strides/pads");
        }
        uint256[] calldata os = d.out.shape;
        if (os.length != 4 || os[1] == 0 || os[2] == 0 || os[3] == 0) revert BadNode("output shape");
        uint256 x = e % os[3];
        uint256 y = (e / os[3]) % os[2];
        w.o = (e / (os[3] * os[2])) % os[1];
        w.b = e / (os[3] * os[2] * os[1]);
        int256 h = int256(d.inputs[0].shape[2]);
        int256 width = int256(d.inputs[0].shape[3]);
        int256 kh = int256(d.inputs[1].shape[2]);
        int256 kw = int256(d.inputs[1].shape[3]);
        w.y0 = int256(y) * d.params[0] - d.params[2];
        w.x0 = int256(x) * d.params[1] - d.params[3];
        int256 lo = w.x0 > 0 ? w.x0 : int256(0);
        int256 hi = w.x0 + kw < width ? w.x0 + kw : width;
        int256 ky0 = w.y0 < 0 ? -w.y0 : int256(0);
        int256 ky1 = h - w.y0 < kh ? h - w.y0 : kh;
        w.lo = uint256(lo);
        w.hi = uint256(hi > lo ? hi : lo);
        w.ky0 = uint256(ky0);
        w.nky = (hi > lo && ky1 > ky0) ? uint256(ky1 - ky0) : 0;
    }
}
