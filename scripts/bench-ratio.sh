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
#
# With GOEXPERIMENT set, the default build's sign rate is measured too, and
# ratio-go divides by it: the machine's speed measured the same way for both
# builds, so a faster RSA shows in ratio-go (ratio divides by the build's own
# sign rate, in which a faster RSA cancels out).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
both="${GOEXPERIMENT:+yes}"
go test -c -o "$tmp/signing.test" ./signing/
if [ -n "$both" ]; then GOEXPERIMENT= go test -c -o "$tmp/signing-go.test" ./signing/; fi
go test -c -o "$tmp/e2e.test" ./e2e/

# sign [binary]: BenchmarkSign/kanta's rate on one core, docs/s.
sign() {
  (cd signing && "$tmp/${1:-signing}.test" -test.run '^$' -test.bench 'BenchmarkSign/kanta$' -test.benchtime 2s -test.cpu 1) |
    awk '/BenchmarkSign\/kanta/ { for (i = 1; i <= NF; i++) if ($i == "ns/op") printf "%.1f\n", 1e9 / $(i-1) }'
}
# ratio docs/s sign-before sign-after
ratio() { awk -v d="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.3f", d / ((a + b) / 2) }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { printf "%s (of %d runs)", (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2), NR }'; }

echo "build: GOEXPERIMENT=${GOEXPERIMENT:-} $(go version | awk '{print $3}')"
printf '%-4s %12s %12s %12s %10s %8s %14s %14s' run sign-before docs/s sign-after ratio load gw-CPU-ms/doc mock-CPU-ms/doc
if [ -n "$both" ]; then printf ' %14s %14s %10s' go-sign-before go-sign-after ratio-go; fi
echo
ratios=()
gratios=()
for r in $(seq 1 "$runs"); do
  if [ -n "$both" ]; then g1=$(sign signing-go); fi
  s1=$(sign)
  load=$(cut -d' ' -f1 /proc/loadavg)
  line=$(cd e2e && "$tmp/e2e.test" -test.run '^$' -test.bench 'BenchmarkOnce10k$' -test.benchtime 1x | grep '^BenchmarkOnce10k')
  metric() { awk -v m="$1" '{ for (i = 1; i <= NF; i++) if ($i == m) print $(i-1) }' <<< "$line"; }
  d=$(metric docs/s)
  s2=$(sign)
  ratios+=("$(ratio "$d" "$s1" "$s2")")
  printf '%-4s %12s %12s %12s %10s %8s %14s %14s' "$r" "$s1" "$d" "$s2" "${ratios[-1]}" "$load" "$(metric gateway-CPU-ms/doc)" "$(metric mock-CPU-ms/doc)"
  if [ -n "$both" ]; then
    g2=$(sign signing-go)
    gratios+=("$(ratio "$d" "$g1" "$g2")")
    printf ' %14s %14s %10s' "$g1" "$g2" "${gratios[-1]}"
  fi
  echo
done
echo "median ratio: $(median "${ratios[@]}")"
if [ -n "$both" ]; then echo "median ratio-go: $(median "${gratios[@]}")"; fi
