// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @title IProofVerifier
/// @notice Groth16 (BN254) verification against registered verifying keys, one proof or a batch per key.
/// @dev A private node's circuit has one public input, Poseidon(inHash, outHash, weightCommitment)
///      (offchain/zk/private.py `public_signal`), so the cost does not grow with tensor size.
///      Verification returns false for any proof that does not verify (wrong proof, wrong inputs,
///      points off the curve); it reverts only for calls that cannot name a valid statement
///      (unknown key, wrong input count, inputs outside the field, proofs not 256 bytes).
interface IProofVerifier {
    /// @dev No key is registered under `keyId`.
    error UnknownKey(uint256 keyId);
    /// @dev `got` public inputs were given where key `keyId` takes `expected`.
    error PublicInputCount(uint256 keyId, uint256 expected, uint256 got);
    /// @dev Public input `value` (at `index`) is not below the BN254 scalar order.
    error PublicInputNotInField(uint256 index, uint256 value);
    /// @dev Proof `index` is `length` bytes; a Groth16 proof is 256 (A, B, C in EIP-197 layout).
    error ProofLength(uint256 index, uint256 length);
    /// @dev A batch gave `proofs` proofs but `inputs` public-input lists.
    error BatchLengthMismatch(uint256 proofs, uint256 inputs);
    /// @dev A batch holds no proof.
    error EmptyBatch();
    /// @dev An encoded verifying key of `length` bytes is not 448 + 64 (nPublic + 1) bytes with nPublic >= 1.
    error VerifyingKeyMalformed(uint256 length);
    /// @dev These exact verifying-key bytes are already registered as `keyId`.
    error KeyAlreadyRegistered(uint256 keyId);
    /// @dev Storing the verifying key's bytes (a data contract) failed.
    error KeyStoreFailed();

    /// @dev Key `keyId` (keccak of its bytes: `vkHash`) was registered with `nPublic` inputs, bytes stored at `pointer`.
    event VerifyingKeyRegistered(uint256 indexed keyId, bytes32 indexed vkHash, uint256 nPublic, address pointer);

    /// @notice Register a verifying key; only callers holding the registrar role.
    /// @param vk alpha1 (x, y), beta2, gamma2, delta2 (each x_im, x_re, y_im, y_re), IC[0..nPublic] (x, y):
    ///        uint256 words, big-endian, EIP-197 layout (offchain/zk/chain.py `encode_vk`).
    /// @return keyId Sequential id, starting at 1.
    function registerKey(bytes calldata vk) external returns (uint256 keyId);

    /// @notice Whether `proof` (256 bytes: A, B, C) proves the statement `publicInputs` for key `keyId`.
    function verify(uint256 keyId, uint256[] calldata publicInputs, bytes calldata proof)
        external view returns (bool);

    /// @notice Whether every proof verifies for key `keyId`: one pairing check over a random linear
    ///         combination (n + 3 pairings), randomness by Fiat-Shamir over the call data (keyId, all inputs
    ///         and proofs): keccak256(msg.data).
    /// @dev False if any one proof is invalid (except with probability about 2^-128 per batch).
    function verifyBatch(uint256 keyId, uint256[][] calldata publicInputs, bytes[] calldata proofs)
        external view returns (bool);

    /// @notice The key's number of public inputs, keccak of its bytes and the data contract holding them.
    function keyInfo(uint256 keyId) external view returns (uint256 nPublic, bytes32 vkHash, address pointer);

    /// @notice The id of the key whose bytes hash to `vkHash`, 0 if none is registered (keys are registered once,
    ///         so models whose private nodes share a circuit share its key).
    function keyIdOf(bytes32 vkHash) external view returns (uint256);
}
