#!/usr/bin/env bash
# The testnet path, end to end, against a stand-in: a second anvil with Sepolia's chain id and 1 s blocks,
# reached only through ape's --network with a custom RPC URI (exactly how a real RPC is used).
# Steps: deploy, register digits-mlp and minilm (text) with consumers, start a submitter and a challenger serving
# both, request a digit and a sentence embedding, wait for both callbacks.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8649}
RPC="http://127.0.0.1:$PORT"
NET="ethereum:stand-in-sepolia:$RPC"
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -f deployments/11155111.json; }
trap cleanup EXIT

anvil --port "$PORT" --chain-id 11155111 --block-time 1 --silent & pids+=($!)
sleep 2
test -f build/models/digits-mlp.model || python -m offchain compile digits-mlp >/dev/null
test -f build/models/minilm.model || python -m offchain compile minilm >/dev/null
ape run deploy --network "$NET" --account TEST::0
consumer=$(ape run register --network "$NET" --account TEST::0 --model build/models/digits-mlp.model --consumer \
  | tee /dev/stderr | sed -n 's/^consumer DigitsClassifier at //p')
embedder=$(ape run register --network "$NET" --account TEST::0 --model build/models/minilm.model --consumer \
  | tee /dev/stderr | sed -n 's/^consumer SentenceSimilarity at //p')
models=(--model build/models/digits-mlp.model --model build/models/minilm.model)
ape run submitter --network "$NET" --account TEST::2 "${models[@]}" --state "$WORK/s.sqlite" \
  > "$WORK/submitter.log" 2>&1 & pids+=($!)
ape run challenger --network "$NET" --account TEST::3 "${models[@]}" --state "$WORK/c.sqlite" \
  > "$WORK/challenger.log" 2>&1 & pids+=($!)
ape run request --network "$NET" --account TEST::1 --consumer "$consumer" --image-index 5 --timeout 180
ape run request --network "$NET" --account TEST::1 --consumer "$embedder" --text "Contracts can ask for embeddings." \
  --timeout 180
grep -h "event=" "$WORK"/*.log | cut -d' ' -f3- 
