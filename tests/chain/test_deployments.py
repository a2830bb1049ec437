"""Deployment records: a second deploy reuses what the chain holds; a lost chain or a changed contract redeploys."""

import json

import pytest
from ape import chain, project

from offchain.chain.deployments import DeploymentError, deploy_protocol, load_record, record_path


def test_second_deploy_reuses_the_recorded_contracts(tmp_path, owner):
    provider = chain.provider
    first = deploy_protocol(project, provider, owner, directory=tmp_path)
    nonce = owner.nonce
    second = deploy_protocol(project, provider, owner, directory=tmp_path)
    assert second == first
    assert owner.nonce == nonce, "reusing must not send a transaction"
    record = json.loads(record_path(provider.chain_id, tmp_path).read_text())
    assert record["contracts"]["ModelRegistry"]["address"] == first["ModelRegistry"]


def test_a_record_whose_code_is_gone_is_redeployed(tmp_path, owner):
    provider = chain.provider
    first = deploy_protocol(project, provider, owner, directory=tmp_path)
    path = record_path(provider.chain_id, tmp_path)
    record = json.loads(path.read_text())
    # As after an anvil restart: the recorded address holds no code.
    record["contracts"]["ModelRegistry"]["address"] = "0x" + "11" * 20
    path.write_text(json.dumps(record))
    again = deploy_protocol(project, provider, owner, directory=tmp_path)
    assert again["ModelRegistry"] not in (first["ModelRegistry"], "0x" + "11" * 20)
    assert len(provider.get_code(again["ModelRegistry"])) > 0


def test_corrupt_or_foreign_records_are_refused(tmp_path):
    record_path(5, tmp_path).write_text("{not json")
    with pytest.raises(DeploymentError, match="not valid JSON"):
        load_record(5, tmp_path)
    record_path(6, tmp_path).write_text(json.dumps({"chainId": 1, "contracts": {}}))
    with pytest.raises(DeploymentError, match="records chain 1, not 6"):
        load_record(6, tmp_path)
