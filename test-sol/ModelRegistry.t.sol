// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {ModelRegistry} from "../contracts/oracle/ModelRegistry.sol";
import {IModelRegistry} from "../contracts/oracle/interfaces/IModelRegistry.sol";
import {IModelRegistryErrors} from "../contracts/oracle/interfaces/IModelRegistryErrors.sol";

/// Fuzz properties of the registry (forge runs every `testFuzz_*` with random arguments).
contract ModelRegistryFuzzTest {
    ModelRegistry internal registry;

    function setUp() public {
        registry = new ModelRegistry(address(this));
    }

    function _model(bytes32 g, bytes32 w, uint32 len, uint256 fee) internal pure returns (IModelRegistry.Model memory) {
        return IModelRegistry.Model(g, w, 7, 2, len, 5, 1, -128, 127, 10, 5, fee, address(0xBEEF), address(0xFEE), false);
    }

    /// Ids count up from 1, storage round-trips, and the same commitments never get a second id.
    function testFuzz_registerIsInjective(bytes32 g1, bytes32 w1, bytes32 g2, bytes32 w2, uint32 len, uint256 fee)
        public
    {
        if (g1 == 0 || w1 == 0 || g2 == 0 || w2 == 0 || len == 0) return;
        if (g1 == g2 && w1 == w2) return;
        require(registry.registerModel(_model(g1, w1, len, fee)) == 1, "first id is not 1");
        require(registry.registerModel(_model(g2, w2, len, fee)) == 2, "second id is not 2");

        IModelRegistry.Model memory stored = registry.getModel(2);
        require(stored.graphRoot == g2 && stored.weightsRoot == w2, "roots not stored");
        require(stored.inputLength == len && stored.fee == fee, "parameters not stored");

        try registry.registerModel(_model(g1, w1, len, fee ^ 1)) {
            revert("duplicate registered");
        } catch (bytes memory reason) {
            require(
                keccak256(reason) == keccak256(abi.encodeWithSelector(IModelRegistryErrors.ModelAlreadyRegistered.selector, 1)),
                "wrong revert for a duplicate"
            );
        }
        require(registry.modelCount() == 2, "count changed by a failed registration");
    }

    /// A domain is accepted iff its width is 1, 2 or 4, the input length is whole elements, and
    /// width-min <= min <= max <= width-max; otherwise the registry names the first broken rule.
    function testFuzz_inputDomainIsValidated(uint8 width, uint32 len, int32 lo, int32 hi) public {
        if (len == 0) return;
        IModelRegistry.Model memory m = _model(bytes32(uint256(1)), bytes32(uint256(2)), len, 0);
        (m.inputWidth, m.inputMin, m.inputMax) = (width, lo, hi);
        bytes memory expected;
        if (width != 1 && width != 2 && width != 4) {
            expected = abi.encodeWithSelector(IModelRegistryErrors.BadInputWidth.selector, width);
        } else if (len % width != 0) {
            expected = abi.encodeWithSelector(IModelRegistryErrors.InputLengthNotWhole.selector, len, width);
        } else {
            int256 half = int256(1) << (8 * uint256(width) - 1);
            if (lo > hi || lo < -half || hi >= half) {
                expected = abi.encodeWithSelector(IModelRegistryErrors.BadInputDomain.selector, lo, hi, width);
            }
        }
        try registry.registerModel(m) {
            require(expected.length == 0, "an inconsistent domain was registered");
            IModelRegistry.Model memory stored = registry.getModel(1);
            require(stored.inputWidth == width && stored.inputMin == lo && stored.inputMax == hi, "domain not stored");
        } catch (bytes memory reason) {
            require(expected.length != 0 && keccak256(reason) == keccak256(expected), "wrong revert for a domain");
        }
    }

    /// Any id outside 1..modelCount reverts with UnknownModel(id).
    function testFuzz_unknownIdsRevert(uint256 id) public {
        registry.registerModel(_model(bytes32(uint256(1)), bytes32(uint256(2)), 64, 0));
        if (id == 1) return;
        try registry.getModel(id) {
            revert("unknown id answered");
        } catch (bytes memory reason) {
            require(
                keccak256(reason) == keccak256(abi.encodeWithSelector(IModelRegistryErrors.UnknownModel.selector, id)),
                "wrong revert for an unknown id"
            );
        }
    }
}
