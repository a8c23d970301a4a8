#!/usr/bin/env bash
# The throughput ratio of issue 17: end-to-end documents/s of `once` over
# 10,000 generated entries (e2e BenchmarkOnce10k: mock verifying every
# signature, mutual TLS, synchronous=FULL) divided by the single-core rate of
# BenchmarkSign/kanta measured around it (before and after each run, the
# mean of the two), so the machine's speed cancels out. Prints each run's
# raw figures and the median ratio.
#
#   scripts/bench-ratio.sh [runs]                          # default 3
#   GOEXPERIMENT=boringcrypto scripts/bench-ratio.sh 3     # the BoringCrypto build
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/signing.test" ./signing/
go test -c -o "$tmp/e2e.test" ./e2e/

sign() {
  (cd signing && "$tmp/signing.test" -test.run '^$' -test.bench 'BenchmarkSign/kanta$' -test.benchtime 2s -test.cpu 1) |
    awk '/BenchmarkSign\/kanta/ { for (i = 1; i <= NF; i++) if ($i == "ns/op") printf "%.1f\n", 1e9 / $(i-1) }'
}

echo "build: GOEXPERIMENT=${GOEXPERIMENT:-} $(go version | awk '{print $3}')"
printf '%-4s %12s %12s %12s %10s %8s %14s %14s\n' run sign-before docs/s sign-after ratio load gw-CPU-ms/doc mock-CPU-ms/doc
ratios=()
for r in $(seq 1 "$runs"); do
  s1=$(sign)
  load=$(cut -d' ' -f1 /proc/loadavg)
  line=$(cd e2e && "$tmp/e2e.test" -test.run '^$' -test.bench 'BenchmarkOnce10k$' -test.benchtime 1x | grep '^BenchmarkOnce10k')
  metric() { awk -v m="$1" '{ for (i = 1; i <= NF; i++) if ($i == m) print $(i-1) }' <<< "$line"; }
  d=$(metric docs/s)
  s2=$(sign)
  ratio=$(awk -v d="$d" -v a="$s1" -v b="$s2" 'BEGIN { printf "%.3f", d / ((a + b) / 2) }')
  ratios+=("$ratio")
  printf '%-4s %12s %12s %12s %10s %8s %14s %14s\n' "$r" "$s1" "$d" "$s2" "$ratio" "$load" "$(metric gateway-CPU-ms/doc)" "$(metric mock-CPU-ms/doc)"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "median ratio: %s (of %d runs)\n", (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2), NR }'
