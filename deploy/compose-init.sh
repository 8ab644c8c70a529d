#!/bin/sh
# Make the three node folders and the signed consortium file that compose.yaml mounts.
# Each step is what one organisation would run on its own machine.
set -eu
LAKE=${1:-lake}
i=0
for org in police ngo uni; do
  sharelake node init "$LAKE/$org/node" --id "P$i" --org "$org" \
    --advertise "127.0.0.1:$((7340 + 100 * i))" --advertise-peer "p$i:7341" \
    --bind 0.0.0.0:7340 --bind-peer 0.0.0.0:7341
  sharelake member init --name "$org" --roles provider,approver --out "$LAKE/$org/keys"
  i=$((i + 1))
done
sharelake member init --name analyst --org uni --roles analyst --out "$LAKE/uni/keys"
sharelake consortium assemble --name compose-lake --out "$LAKE/consortium.toml" \
  --node "$LAKE/police/node/descriptor.toml" --node "$LAKE/ngo/node/descriptor.toml" \
  --node "$LAKE/uni/node/descriptor.toml" \
  --member "$LAKE/police/keys/police.member.toml" --member "$LAKE/ngo/keys/ngo.member.toml" \
  --member "$LAKE/uni/keys/uni.member.toml" --member "$LAKE/uni/keys/analyst.member.toml"
for org in police ngo uni; do
  sharelake consortium sign "$LAKE/consortium.toml" --as "$org" --key "$LAKE/$org/keys/$org.key"
done
for org in police ngo uni; do
  cp "$LAKE/consortium.toml" "$LAKE/$org/node/consortium.toml"
done
# the container's user (uid 7340) owns the node folders
chown -R 7340:7340 "$LAKE/police/node" "$LAKE/ngo/node" "$LAKE/uni/node" 2>/dev/null || true
echo "ready: docker compose -f deploy/compose.yaml up --build"
