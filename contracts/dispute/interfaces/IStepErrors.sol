// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title IStepErrors
/// @notice Every error a one-step proof can revert with, declared once. The prover, its libraries and the
///         operator contracts revert with these, and the dispute game inherits this interface, so a failed
///         `step` bubbles up an error that the game's own ABI decodes (clients need no call trace to name it).
interface IStepErrors {
    /// @dev No operator contract is registered for this op code.
    error UnknownOp(uint256 op);
    /// @dev The prover's constructor arrays differ in length, or a code is registered twice or with no contract.
    error BadOperatorTable();
    /// @dev The descriptor is for another node than the game's.
    error WrongNode(uint256 descriptorIndex, uint256 gameNode);
    /// @dev The proof gives roots for another number of operands than the node has.
    error WrongOperandCount(uint256 given, uint256 expected);
    /// @dev Operand `slot`'s root is not proven against the model's or the claim's commitments.
    error OperandRootNotProven(uint256 slot);
    /// @dev The proof gives another number of ranges than the operator reads.
    error WrongRangeCount(uint256 given, uint256 expected);
    /// @dev A range lies outside its operand.
    error RangeOutOfTensor(uint256 slot, uint256 start, uint256 len, uint256 numel);
    /// @dev Range r's chunks are not the operand's chunks at the range's position.
    error RangeNotProven(uint256 r);
    /// @dev The descriptor's bytes do not follow the layout (the reason names the field).
    error MalformedDescriptor(string reason);
    /// @dev A requantisation shift outside [-31, 62] (the engine rejects such graphs at compile time).
    error ShiftOutOfRange(int256 shift);
    /// @dev An accumulator outside +-2^62, which the engine refuses to requantise.
    error AccumulatorOutOfRange(int256 acc);
    /// @dev An element width other than 1, 2 or 4 bytes.
    error BadWidth(uint256 width);
    /// @dev An element index past an operand's length.
    error OperandIndexOutOfRange(uint256 index, uint256 len);
    /// @dev The descriptor's op code is not one the operator contract implements.
    error UnsupportedOp(uint256 op);
    /// @dev The descriptor breaks the op's rules (the reason names which).
    error BadNode(string reason);

    // ---------------------------------------------------------------- activations (issue 13)
    /// @dev CLAMP bounds outside `min <= lo <= hi <= max` (the input dtype's range).
    error ClampBoundsOutOfRange(int256 lo, int256 hi, int256 min, int256 max);
    /// @dev LEAKY_RELU slope m / 2^k with k outside [0, 24] or |m| > 2^24.
    error SlopeOutOfRange(int256 m, int256 k);
    /// @dev Frac bits outside an op's limits: input in [0, fInMax], output in [0, fOutMax].
    error FracOutOfRange(int256 fIn, int256 fOut, int256 fInMax, int256 fOutMax);

    // ---- image: sd-unet-block (issue 16)
    /// @dev RSQRT's eps outside [0, 2^31) (in the input's LSBs).
    error EpsOutOfRange(int256 eps);
    /// @dev EXP's row max (slot 1) or row sum (slot 2) is not shaped like x with its last axis 1, or the sum is not
    ///      INT32 (the operand's rank and width).
    error RowOperandMismatch(uint256 slot, uint256 rank, uint256 width);
    /// @dev EXP's row max m is not on x's scale.
    error RowMaxFracMismatch(int256 xFrac, int256 mFrac);
}
