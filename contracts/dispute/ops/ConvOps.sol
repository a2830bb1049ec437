// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {NodeDesc} from "../lib/LibDescriptor.sol";
import {LibFixed} from "../lib/LibFixed.sol";
import {LibOperand, Operand} from "../lib/LibOperand.sol";
import {LibRow} from "../lib/LibRow.sol";
import {OperatorBase} from "./OperatorBase.sol";

/// @title ConvOps
/// @notice CONV2D (NCHW, zero padding, dilation, groups), mirroring offchain/engine/ops/conv.py: x [B, C, H, W],
///         W [O, C / G, KH, KW], optional int32 bias [O]. Params: the short form (stride_h, stride_w, pad_h, pad_w)
///         means (stride_h, stride_w, pad_h, pad_w, pad_h, pad_w, 1, 1, 1) of the long form (stride_h, stride_w,
///         pad_top, pad_left, pad_bottom, pad_right, dilation_h, dilation_w, groups). With g = o / (O / G) and
///         Cg = C / G:
///         out[b, o, y, x] = rescale(sum_{c < Cg, ky, kx} xpad[b, g Cg + c, y sh + ky dh, x sw + kx dw]
///                                   W[o, c, ky, kx] + b[o], fx + fw - fo),
///         xpad being x shifted by (pad_top, pad_left), zero outside the image; the output shape is the
///         descriptor's (the bottom/right pads only fix it off-chain). Ranges: W[o] (one block), the bias element,
///         then per (c, ky) whose input row lies inside the image the run of x columns from the first to the last
///         in-image tap, c-major (the element reads every dw-th value of it; padding reads are zeros and are not
///         proved).
contract ConvOps is OperatorBase {
    using LibOperand for Operand;

    uint256 internal constant CONV2D = 2;
    uint256 internal constant SHORT_PARAMS = 4;
    uint256 internal constant LONG_PARAMS = 9;
    int256 internal constant MAX_PARAM = 1 << 32;

    /// @dev Where output element e's receptive field lies. Valid kernel rows are ky0 <= ky < ky0 + nky (input
    ///      row y0 + ky dh), valid kernel columns kx0 <= kx < kx0 + nkx (input column x0 + kx dw, the first of
    ///      them `lo`); nky = 0 when the field misses the image. Channels c0 <= c < c0 + cg are o's group.
    struct Window {
        uint256 b;
        uint256 o;
        int256 y0;
        uint256 lo;
        uint256 kx0;
        uint256 nkx;
        uint256 ky0;
        uint256 nky;
        uint256 c0;
        uint256 cg;
        uint256 dh;
        uint256 dw;
    }

    function rangeCount(NodeDesc calldata d, uint256 e) external pure returns (uint256) {
        Window memory w = _window(d, e);
        return _firstRun(d) + w.cg * w.nky;
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
        if (operands.length != first + w.cg * w.nky) revert BadNode("operand count");
        Operand memory weights = _m(operands[0]);
        int256 acc = first == 2 ? _m(operands[1]).at(0) : int256(0);
        uint256 kh = d.inputs[1].shape[2];
        uint256 kw = d.inputs[1].shape[3];
        for (uint256 q; q < w.cg * w.nky; ++q) {
            uint256 base = ((q / w.nky) * kh + w.ky0 + q % w.nky) * kw + w.kx0;
            acc += LibRow.dotSliceCalldata(operands[first + q], w.dw, weights, base, w.nkx);
        }
        return LibFixed.rescale(acc, _productShift(d, 0, 1), d.out.width);
    }

    /// @dev Range of x run q: channel c0 + q / nky, kernel row ky0 + q % nky, columns lo .. lo + (nkx - 1) dw.
    function _run(NodeDesc calldata d, Window memory w, uint256 q) internal pure returns (uint256, uint256, uint256) {
        if (q >= w.cg * w.nky) revert BadNode("range index");
        // iy = y0 + ky dh >= 0 for every valid ky, by the choice of ky0.
        uint256 iy = uint256(w.y0 + int256((w.ky0 + q % w.nky) * w.dh));
        uint256 row = (w.b * d.inputs[0].shape[1] + w.c0 + q / w.nky) * d.inputs[0].shape[2] + iy;
        return (0, row * d.inputs[0].shape[3] + w.lo, (w.nkx - 1) * w.dw + 1);
    }

    /// @dev Index of the first x run among the ranges: after W and the optional bias.
    function _firstRun(NodeDesc calldata d) internal pure returns (uint256) {
        return d.inputs.length == 3 ? 2 : 1;
    }

    /// @dev [first, end) of the kernel taps t < k whose position start + t dilation lies in [0, size); empty
    ///      (first == end) when none does.
    function _taps(int256 start, uint256 k, uint256 dilation, uint256 size)
        internal
        pure
        returns (uint256 first, uint256 end)
    {
        // The casts are exact for sizes and positions below 2^255; the graph check every node runs before
        // serving a model (offchain/engine/ops/conv.py) allows only shapes it can execute, far below that.
        int256 dil = int256(dilation);
        first = start < 0 ? uint256((-start + dil - 1) / dil) : 0;
        if (start < int256(size)) {
            end = uint256((int256(size) - 1 - start) / dil + 1);
            if (end > k) end = k;
        }
        if (end < first) end = first;
    }

    function _window(NodeDesc calldata d, uint256 e) internal pure returns (Window memory w) {
        if (d.op != CONV2D) revert UnsupportedOp(d.op);
        _expectInputs(d, 2, 3);
        // INVARIANT: x and W are rank 4.
        if (d.inputs[0].shape.length != 4 || d.inputs[1].shape.length != 4) revert BadNode("conv rank");
        int256[] calldata p = d.params;
        // The short form (sh, sw, ph, pw) is the long form with bottom/right pads ph, pw and dilations, groups 1.
        uint256 groups = 1;
        w.dh = 1;
        w.dw = 1;
        if (p.length == LONG_PARAMS) {
            // INVARIANT: bottom/right pads are not negative.
            if (p[4] < 0 || p[5] < 0) revert BadNode("conv pads");
            // INVARIANT: dilations and groups are at least 1.
            if (p[6] < 1 || p[7] < 1 || p[8] < 1) revert BadNode("conv strides/dilations/groups");
            w.dh = uint256(p[6]);
            w.dw = uint256(p[7]);
            groups = uint256(p[8]);
        } else if (p.length != SHORT_PARAMS) {
            // INVARIANT: params are the short (4) or the long (9) form.
            revert BadNode("conv params");
        }
        // INVARIANT: strides are at least 1.
        if (p[0] < 1 || p[1] < 1) revert BadNode("conv strides/dilations/groups");
        // INVARIANT: top/left pads are not negative.
        if (p[2] < 0 || p[3] < 0) revert BadNode("conv pads");
        // INVARIANT: no stride, pad, dilation or group count exceeds MAX_PARAM (offchain/engine/ops/conv.py's
        // MAX_CONV_PARAM), so window positions and tap counts cannot overflow int256.
        for (uint256 i = 0; i < p.length; ++i) {
            if (p[i] > MAX_PARAM) revert BadNode("conv param too large");
        }
        uint256[] calldata ws = d.inputs[1].shape;
        // INVARIANT: groups divide the out-channels, and W holds C / groups in-channels.
        if (ws[0] == 0 || ws[0] % groups != 0 || ws[1] * groups != d.inputs[0].shape[1]) {
            revert BadNode("conv groups");
        }
        uint256[] calldata os = d.out.shape;
        // INVARIANT: the output is rank 4 and not empty.
        if (os.length != 4 || os[1] == 0 || os[2] == 0 || os[3] == 0) revert BadNode("output shape");
        w.o = (e / (os[3] * os[2])) % os[1];
        w.b = e / (os[3] * os[2] * os[1]);
        w.cg = ws[1];
        w.c0 = (w.o / (ws[0] / groups)) * w.cg;
        w.y0 = int256((e / os[3]) % os[2]) * p[0] - p[2];
        _place(d, w, int256(e % os[3]) * p[1] - p[3]);
    }

    /// @dev Fills w's taps and first column from its top row y0 and the field's left column x0.
    function _place(NodeDesc calldata d, Window memory w, int256 x0) internal pure {
        uint256[] calldata ws = d.inputs[1].shape;
        (uint256 ky0, uint256 ky1) = _taps(w.y0, ws[2], w.dh, d.inputs[0].shape[2]);
        (uint256 kx0, uint256 kx1) = _taps(x0, ws[3], w.dw, d.inputs[0].shape[3]);
        w.ky0 = ky0;
        w.kx0 = kx0;
        w.nkx = kx1 - kx0;
        w.nky = w.nkx > 0 ? ky1 - ky0 : 0;
        w.lo = w.nky > 0 ? uint256(x0 + int256(kx0 * w.dw)) : 0;
    }
}
