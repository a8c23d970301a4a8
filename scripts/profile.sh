#!/usr/bin/env bash
# Profiles the end-to-end batch run (e2e BenchmarkOnce10k: `once` over 10,000
# generated entries against mock-kanta, mutual TLS, signatures verified):
# CPU and allocation profiles of BOTH processes, written by package
# profiling (KANTA_PROFILE_DIR), with pprof's top list of each.
#
#   scripts/profile.sh [out-dir]            # default /tmp/kanta-profile
#   CALLGRIND=1 scripts/profile.sh          # also: instruction counts of
#                                           # BenchmarkSign/kanta under callgrind
#
# Extra `go test` flags (e.g. GOEXPERIMENT=boringcrypto in the environment)
# apply to the binaries too: the e2e harness builds them with `go build`.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/kanta-profile}"
rm -rf "$out" && mkdir -p "$out" && chmod 700 "$out"

echo "== BenchmarkOnce10k with profiles in $out"
KANTA_PROFILE_DIR="$out" go test ./e2e -run '^$' -bench 'Once10k' -benchtime 1x -count 1 | tee "$out/bench.txt"

for f in "$out"/kanta-gateway-*.cpu.pprof "$out"/mock-kanta-*.cpu.pprof; do
  [ -s "$f" ] || continue
  # the largest profile of each name is the run itself (the gateway's
  # `once`; small ones come from helper commands)
  echo "== $(basename "$f")"
  go tool pprof -top -nodecount 25 "$f" 2>/dev/null | head -32
done
echo "(per-process: go tool pprof -http : $out/<file>.cpu.pprof; allocations: -sample_index=alloc_space <file>.heap.pprof)"

if [ "${CALLGRIND:-0}" = 1 ]; then
  if ! command -v valgrind >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind
  fi
  # Instruction counts do not depend on the machine's load: a repeatable
  # measure of the per-document signing cost. Only instructions inside
  # Signer.Sign are counted (--toggle-collect): the benchmark's setup
  # generates RSA keys, whose cost varies at random.
  go test -c -o "$out/signing.test" ./signing/
  # asyncpreemptoff: the Go runtime's preemption signals crash callgrind 3.19.
  (cd signing && GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --toggle-collect='*Signer).Sign' \
    --callgrind-out-file="$out/callgrind.sign" "$out/signing.test" -test.run '^$' \
    -test.bench 'BenchmarkSign/kanta$' -test.benchtime 20x -test.cpu 1 > /dev/null 2> "$out/callgrind.sign.log")
  n=$(grep -o 'Collected : [0-9]*' "$out/callgrind.sign.log" | awk '{print $3}')
  echo "== callgrind: BenchmarkSign/kanta instructions per signed document: $(( n / 20 ))"
fi
