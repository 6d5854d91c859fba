#!/usr/bin/env bash
# The peer benchmark of ../shared/bench/peers with this project's verifier added as one
# more peer (examples/peer_verifier.rs, registered in extra-peers.txt as the harness's
# README describes). shared/ is read-only, so the harness is copied to target/bench-peers
# (its own set-up: .venv, node_modules, fixtures, its Rust peers, lands there too).
# Usage: scripts/bench_peers.sh [run.sh options, e.g. --quick, --alg all, --rounds 5]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="${PEERS_DIR:-$ROOT/../shared/bench/peers}"
DST="$ROOT/target/bench-peers"
[[ -f $SRC/run.sh ]] || { echo "bench_peers: no peer harness at $SRC" >&2; exit 1; }

mkdir -p "$DST"
# Copy the harness itself, keeping whatever it generated in an earlier run.
(cd "$SRC" && find . -path ./node_modules -prune -o -path ./.venv -prune -o -path ./rust/target -prune \
  -o -path ./fixtures -prune -o -path ./results -prune -o -type f -print) | while read -r file; do
  mkdir -p "$DST/$(dirname "$file")"
  install -m 0644 "$SRC/$file" "$DST/$file"
done
chmod +x "$DST/run.sh" "$DST/openssl/speed_peer.sh"

cargo build --quiet --release --example peer_verifier --manifest-path "$ROOT/Cargo.toml"
echo "jwt-authorizer=$ROOT/target/release/examples/peer_verifier" > "$DST/extra-peers.txt"
cd "$DST"
./run.sh "$@"
