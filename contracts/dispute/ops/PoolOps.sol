// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOperator} from "../interfaces/IOperator.sol";
import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibRow} from "../lib/LibRow.sol";
import {Operand} from "../lib/LibOperand.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title PoolOps
/// @notice MAXPOOL2D and AVGPOOL2D on NCHW tensors (dilation 1, floor mode), mirroring
///         offchain/engine/ops/pool.py. x [B, C, H, W] -> out [B, C, OH, OW], same width and frac as x.
///         MAXPOOL2D params (kh, kw, sh, sw, ph, pw): out = max over the window's in-image elements.
///         AVGPOOL2D params (kh, kw, sh, sw, ph, pw, divisor): S = sum over the in-image elements, D = divisor, or
///         the in-image count when divisor is 0; out = saturate(floor((2 S + D) / (2 D))), rounded half up.
///         Ranges: per kernel row whose input row lies inside the image, the in-image run of x columns.
contract PoolOps is OperatorBase {
    uint256 internal constant MAXPOOL2D = 34;
    uint256 internal constant AVGPOOL2D = 35;
    /// `pool.py::MAX_WINDOW`: largest kh * kw and fixed divisor.
    uint256 internal constant MAX_WINDOW = 1 << 24;

    /// @dev Output element e's window: rows [iy0, iy0 + nrows) and columns [lo, lo + len) of image (b, c),
    ///      clipped to the image (nrows = 0 when the window misses it).
    struct Window {
        uint256 plane;
        uint256 iy0;
        uint256 nrows;
        uint256 lo;
        uint256 len;
    }

    /// @inheritdoc IOperator
    function rangeCount(NodeDesc calldata d, uint256 e) external pure returns (uint256) {
        return _window(d, e).nrows;
    }

    /// @inheritdoc IOperator
    function range(NodeDesc calldata d, uint256 e, uint256 r, Operand[] calldata)
        external
        pure
        returns (uint256, uint256, uint256)
    {
        Window memory w = _window(d, e);
        if (r >= w.nrows) revert BadNode("range index");
        uint256 row = w.plane * d.inputs[0].shape[2] + w.iy0 + r;
        return (0, row * d.inputs[0].shape[3] + w.lo, w.len);
    }

    /// @inheritdoc IOperator
    function element(NodeDesc calldata d, Operand[] calldata operands, uint256 e) external pure returns (int256) {
        Window memory w = _window(d, e);
        if (operands.length != w.nrows) revert BadNode("operand count");
        (int256 m,) = LibFixed.bounds(d.out.width);
        int256 total;
        for (uint256 q; q < w.nrows; ++q) {
            Operand memory run = _m(operands[q]);
            if (run.len != w.len) revert BadNode("run length");
            if (d.op == MAXPOOL2D) {
                int256 v = LibRow.maxPrefix(run, w.len);
                if (v > m) m = v;
            } else {
                total += LibRow.sum(run);
            }
        }
        if (d.op == MAXPOOL2D) return m;
        int256 divisor = d.params[6];
        if (divisor == 0) divisor = int256(w.nrows * w.len);
        return LibFixed.saturate(_floorDiv(2 * total + divisor, 2 * divisor), d.out.width);
    }

    /// @dev floor(a / b) for b > 0 (Solidity's `/` truncates toward zero).
    function _floorDiv(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && a < 0) q -= 1;
    }

    function _window(NodeDesc calldata d, uint256 e) internal pure returns (Window memory w) {
        _check(d);
        uint256[] calldata xs = d.inputs[0].shape;
        uint256[] calldata os = d.out.shape;
        uint256 x = e % os[3];
        uint256 y = (e / os[3]) % os[2];
        w.plane = e / (os[3] * os[2]);
        int256 y0 = int256(y) * d.params[2] - d.params[4];
        int256 x0 = int256(x) * d.params[3] - d.params[5];
        int256 lo = x0 > 0 ? x0 : int256(0);
        int256 hi = x0 + d.params[1] < int256(xs[3]) ? x0 + d.params[1] : int256(xs[3]);
        int256 top = y0 > 0 ? y0 : int256(0);
        int256 bottom = y0 + d.params[0] < int256(xs[2]) ? y0 + d.params[0] : int256(xs[2]);
        if (hi > lo && bottom > top) {
            w.lo = uint256(lo);
            w.len = uint256(hi - lo);
            w.iy0 = uint256(top);
            w.nrows = uint256(bottom - top);
        }
    }

    /// @dev The descriptor rules every pooled element relies on (pool.py `check` enforces them at registration).
    function _check(NodeDesc calldata d) internal pure {
        if (d.op != MAXPOOL2D && d.op != AVGPOOL2D) revert UnsupportedOp(d.op);
        _expectInputs(d, 1, 1);
        if (d.params.length != (d.op == MAXPOOL2D ? 6 : 7)) revert BadNode("param count");
        if (d.inputs[0].shape.length != 4 || d.out.shape.length != 4) revert BadNode("rank");
        int256[] calldata p = d.params;
        // INVARIANT: kernel and strides are >= 1 and each pad is at most half its kernel, so every window of a
        //            non-empty image holds at least one image element (the average's count is never 0).
        if (p[0] < 1 || p[1] < 1 || p[2] < 1 || p[3] < 1 || p[4] < 0 || p[5] < 0 || 2 * p[4] > p[0] || 2 * p[5] > p[1]) {
            revert BadNode("pool kernel/strides/pads");
        }
        // INVARIANT: the window and divisor are bounded, so 2 S + D stays far inside int256.
        if (
            p[0] > int256(MAX_WINDOW) || p[1] > int256(MAX_WINDOW) || uint256(p[0]) * uint256(p[1]) > MAX_WINDOW
                || (d.op == AVGPOOL2D && (p[6] < 0 || p[6] > int256(MAX_WINDOW)))
        ) {
            revert BadNode("pool window/divisor");
        }
        // INVARIANT: pooling keeps its input's element width and frac.
        if (d.out.width != d.inputs[0].width || d.out.frac != d.inputs[0].frac) revert BadNode("pool output scale");
        if (d.inputs[0].shape[2] == 0 || d.inputs[0].shape[3] == 0 || d.out.shape[2] == 0 || d.out.shape[3] == 0) {
            revert BadNode("output shape");
        }
    }
}
