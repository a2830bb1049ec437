// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IProofVerifier} from "./interfaces/IProofVerifier.sol";
import {LibGroth16} from "./lib/LibGroth16.sol";

/// @title Groth16Registry
/// @notice Registered Groth16 verifying keys and single / batched verification (see IProofVerifier).
/// @dev A key's bytes live in the code of a data contract (written once, read with one EXTCODECOPY),
///      because reading 18+ storage slots per verification would cost ~40k gas more.
contract Groth16Registry is IProofVerifier, AccessControl {
    /// @notice Role allowed to register verifying keys.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @dev Fixed part of an encoded key: alpha1, beta2, gamma2, delta2.
    uint256 private constant VK_FIXED_BYTES = 448;
    uint256 private constant PROOF_BYTES = 256;

    struct Key {
        address pointer; // data contract whose code is 0x00 ++ vk bytes
        uint32 nPublic;
    }

    mapping(uint256 keyId => Key) private _keys;
    mapping(uint256 keyId => bytes32) private _vkHashes;
    mapping(bytes32 vkHash => uint256 keyId) private _idByHash;
    uint256 private _count;

    /// @param admin Receives the admin and registrar roles.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    /// @inheritdoc IProofVerifier
    function registerKey(bytes calldata vk) external onlyRole(REGISTRAR_ROLE) returns (uint256 keyId) {
        // INVARIANT: A key has the fixed part and at least two IC points (one public input).
        if (vk.length < VK_FIXED_BYTES + 128 || (vk.length - VK_FIXED_BYTES) % 64 != 0) {
            revert VerifyingKeyMalformed(vk.length);
        }
        bytes32 vkHash = keccak256(vk);
        // INVARIANT: One key, one id, so a statement's meaning cannot be re-registered under another id.
        uint256 existing = _idByHash[vkHash];
        if (existing != 0) revert KeyAlreadyRegistered(existing);
        address pointer = _storeBytes(vk);
        keyId = ++_count;
        uint256 nPublic = (vk.length - VK_FIXED_BYTES) / 64 - 1;
        _keys[keyId] = Key(pointer, uint32(nPublic));
        _vkHashes[keyId] = vkHash;
        _idByHash[vkHash] = keyId;
        emit VerifyingKeyRegistered(keyId, vkHash, nPublic, pointer);
    }

    /// @inheritdoc IProofVerifier
    function verify(uint256 keyId, uint256[] calldata publicInputs, bytes calldata proof)
        external view returns (bool)
    {
        (bytes memory vk, uint256 nPublic) = _loadKey(keyId);
        if (publicInputs.length != nPublic) revert PublicInputCount(keyId, nPublic, publicInputs.length);
        if (proof.length != PROOF_BYTES) revert ProofLength(0, proof.length);
        uint256[] memory s = new uint256[](nPublic);
        for (uint256 j = 0; j < nPublic; ++j) {
            if (publicInputs[j] >= LibGroth16.R) revert PublicInputNotInField(j, publicInputs[j]);
            s[j] = publicInputs[j];
        }
        (uint256 vx, uint256 vy, bool ok) = LibGroth16.icCombination(vk, 1, s);
        if (!ok) return false;
        bytes memory buf = new bytes(4 * 192);
        uint256 base;
        assembly ("memory-safe") {
            base := add(buf, 0x20)
        }
        if (!_writeProofPair(base, proof, 1)) return false;
        LibGroth16.writeVkPair(base + 192, LibGroth16.word(vk, 0), LibGroth16.word(vk, 1), vk, LibGroth16.VK_BETA);
        LibGroth16.writeVkPair(base + 384, vx, vy, vk, LibGroth16.VK_GAMMA);
        LibGroth16.writeVkPair(base + 576, _word(proof, 6), _word(proof, 7), vk, LibGroth16.VK_DELTA);
        return LibGroth16.pairing(base, 4);
    }

    /// @inheritdoc IProofVerifier
    function verifyBatch(uint256 keyId, uint256[][] calldata publicInputs, bytes[] calldata proofs)
        external view returns (bool)
    {
        uint256 n = proofs.length;
        if (n == 0) revert EmptyBatch();
        if (publicInputs.length != n) revert BatchLengthMismatch(n, publicInputs.length);
        (bytes memory vk, uint256 nPublic) = _loadKey(keyId);
        Batch memory acc;
        // Fiat-Shamir: the coefficients depend on every statement and proof (all decoded from this
        // call's data), so a prover cannot pick proofs whose errors cancel in the combination.
        // Hashing msg.data instead of abi.encode(keyId, publicInputs, proofs) saves ~100k gas for 32.
        acc.seed = keccak256(msg.data);
        acc.s = new uint256[](nPublic);
        bytes memory buf = new bytes((n + 3) * 192);
        uint256 base;
        assembly ("memory-safe") {
            base := add(buf, 0x20)
        }
        acc.base = base;
        for (uint256 i = 0; i < n; ++i) {
            if (publicInputs[i].length != nPublic) revert PublicInputCount(keyId, nPublic, publicInputs[i].length);
            if (proofs[i].length != PROOF_BYTES) revert ProofLength(i, proofs[i].length);
            if (!_accumulate(acc, i, publicInputs[i], proofs[i])) return false;
        }
        (uint256 ax, uint256 ay, bool okA) = LibGroth16.mul(LibGroth16.word(vk, 0), LibGroth16.word(vk, 1), acc.sumR);
        (uint256 vx, uint256 vy, bool okV) = LibGroth16.icCombination(vk, acc.sumR, acc.s);
        if (!(okA && okV)) return false;
        uint256 tail = acc.base + n * 192;
        LibGroth16.writeVkPair(tail, ax, ay, vk, LibGroth16.VK_BETA);
        LibGroth16.writeVkPair(tail + 192, vx, vy, vk, LibGroth16.VK_GAMMA);
        LibGroth16.writeVkPair(tail + 384, acc.cx, acc.cy, vk, LibGroth16.VK_DELTA);
        return LibGroth16.pairing(acc.base, n + 3);
    }

    /// @dev Running state of a batch: seed, sum of r_i, per-input sums of r_i x_ij, sum of r_i C_i, pairing buffer.
    struct Batch {
        bytes32 seed;
        uint256 sumR;
        uint256 cx;
        uint256 cy;
        uint256 base;
        uint256[] s;
    }

    /// @dev Adds proof `i` to the batch: writes its pair (-(r A), B) and folds r into the sums; false if a point is bad.
    function _accumulate(Batch memory acc, uint256 i, uint256[] calldata inputs, bytes calldata proof)
        private view returns (bool)
    {
        // r_0 = 1 saves two multiplications; the others are 128-bit, enough for 2^-128 soundness.
        uint256 r = i == 0 ? 1 : uint256(keccak256(abi.encode(acc.seed, i))) >> 128;
        for (uint256 j = 0; j < inputs.length; ++j) {
            if (inputs[j] >= LibGroth16.R) revert PublicInputNotInField(j, inputs[j]);
            acc.s[j] = addmod(acc.s[j], mulmod(r, inputs[j], LibGroth16.R), LibGroth16.R);
        }
        acc.sumR = addmod(acc.sumR, r, LibGroth16.R);
        if (!_writeProofPair(acc.base + i * 192, proof, r)) return false;
        uint256 rcx = _word(proof, 6);
        uint256 rcy = _word(proof, 7);
        bool ok = true;
        if (r != 1) (rcx, rcy, ok) = LibGroth16.mul(rcx, rcy, r);
        if (!ok) return false;
        if (i == 0) (acc.cx, acc.cy) = (rcx, rcy);
        else (acc.cx, acc.cy, ok) = LibGroth16.add(acc.cx, acc.cy, rcx, rcy);
        return ok;
    }

    /// @inheritdoc IProofVerifier
    function keyInfo(uint256 keyId) external view returns (uint256 nPublic, bytes32 vkHash, address pointer) {
        Key memory key = _keys[keyId];
        if (key.pointer == address(0)) revert UnknownKey(keyId);
        return (key.nPublic, _vkHashes[keyId], key.pointer);
    }

    /// @inheritdoc IProofVerifier
    function keyIdOf(bytes32 vkHash) external view returns (uint256) {
        return _idByHash[vkHash];
    }

    /// @dev Writes the pair (-(r * A), B) of `proof` at memory `dst`; false if A is not a curve point.
    function _writeProofPair(uint256 dst, bytes calldata proof, uint256 r) private view returns (bool) {
        uint256 ax = _word(proof, 0);
        uint256 ay = _word(proof, 1);
        if (ay >= LibGroth16.P) return false;
        if (r != 1) {
            bool ok;
            (ax, ay, ok) = LibGroth16.mul(ax, ay, r);
            if (!ok) return false;
        }
        // Negating y (mod P) turns e(A, B) = e(alpha, beta) e(vk_x, gamma) e(C, delta) into a product equal to 1.
        uint256 negY = ay == 0 ? 0 : LibGroth16.P - ay;
        assembly ("memory-safe") {
            mstore(dst, ax)
            mstore(add(dst, 0x20), negY)
            calldatacopy(add(dst, 0x40), add(proof.offset, 0x40), 0x80)
        }
        return true;
    }

    /// @dev Word `i` of a calldata proof.
    function _word(bytes calldata proof, uint256 i) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(proof.offset, mul(i, 0x20)))
        }
    }

    /// @dev The key's bytes (copied from its data contract) and its input count; reverts UnknownKey.
    function _loadKey(uint256 keyId) private view returns (bytes memory vk, uint256 nPublic) {
        Key memory key = _keys[keyId];
        if (key.pointer == address(0)) revert UnknownKey(keyId);
        nPublic = key.nPublic;
        uint256 len = VK_FIXED_BYTES + 64 * (nPublic + 1);
        vk = new bytes(len);
        address pointer = key.pointer;
        assembly ("memory-safe") {
            extcodecopy(pointer, add(vk, 0x20), 1, len)
        }
    }

    /// @dev Deploys a contract whose code is 0x00 (STOP, so calls do nothing) followed by `data`.
    function _storeBytes(bytes calldata data) private returns (address pointer) {
        bytes memory code = abi.encodePacked(hex"00", data);
        // Init code: copy the runtime (appended after these 12 bytes) to memory and return it.
        bytes memory init = abi.encodePacked(
            hex"61", uint16(code.length), hex"80600c6000396000f3", code
        );
        assembly ("memory-safe") {
            pointer := create(0, add(init, 0x20), mload(init))
        }
        if (pointer == address(0)) revert KeyStoreFailed();
    }
}
