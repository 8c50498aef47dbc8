#!/usr/bin/env bash
# Warden's cargo-fuzz targets (fuzz/, its own workspace; nightly toolchain).
#
#   scripts/fuzz.sh short [SECONDS]    build, then SECONDS (default 5) per target;
#                                      the test command's step
#   scripts/fuzz.sh long MINUTES       build, then MINUTES in total, split evenly
#                                      across the targets, one at a time, at
#                                      `nice -n 19`; logs in fuzz/logs/
#   scripts/fuzz.sh build              build only
#
# The fuzzer binaries run directly (not under cargo), each on its own corpus in
# fuzz/corpus/TARGET (seeded from fuzz/seeds/TARGET). A crash, a leak or a
# timeout fails the run and leaves the input in fuzz/artifacts/TARGET/.
# Each run ends with libFuzzer's counters: execs, cov (edges) and ft (features).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
TARGETS=(token_validate token_claims token_decode_unverified body_json body_form)
TRIPLE="$(rustc +nightly -vV | sed -n 's/^host: //p')"
BIN="$FUZZ/target/$TRIPLE/release"

die() { echo "fuzz.sh: $*" >&2; exit 2; }

ensure_tools() {
  rustc +nightly --version >/dev/null 2>&1 \
    || die "the nightly toolchain is required (rustup toolchain install nightly)"
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked || die "cannot install cargo-fuzz"
  fi
}

build() {
  ensure_tools
  # The fuzz workspace pins the same dependency versions as the main one.
  [ -f "$FUZZ/Cargo.lock" ] || cp "$ROOT/Cargo.lock" "$FUZZ/Cargo.lock"
  (cd "$FUZZ" && cargo +nightly fuzz build) || die "build failed"
}

# run TARGET SECONDS LOGFILE [NICE]: one fuzzing session; fails on a finding.
run() {
  local target="$1" seconds="$2" log="$3" nice="${4:-0}"
  local corpus="$FUZZ/corpus/$target" artifacts="$FUZZ/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  local rc=0
  # -rss_limit_mb: the 1 MB-token and JSON-bomb paths must stay bounded too.
  nice -n "$nice" "$BIN/$target" "$corpus" "$FUZZ/seeds/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  local done_line execs
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  printf '%-26s %6ss  execs %-10s %s\n' "$target" "$seconds" "${execs:-?}" \
    "$(echo "$done_line" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' || echo 'no DONE line')"
  if [ "$rc" -ne 0 ]; then
    echo "fuzz.sh: $target FAILED (exit $rc); log: $log" >&2
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -20 >&2 || true
    return 1
  fi
}

mode="${1:-short}"
case "$mode" in
  build)
    build
    ;;
  short)
    seconds="${2:-5}"
    build
    logs="$(mktemp -d)"
    failed=0
    for t in "${TARGETS[@]}"; do
      run "$t" "$seconds" "$logs/$t.log" || failed=1
    done
    [ "$failed" -eq 0 ] && rm -rf "$logs"
    exit "$failed"
    ;;
  long)
    minutes="${2:-}"
    [[ "$minutes" =~ ^[0-9]+$ ]] && [ "$minutes" -gt 0 ] || die "usage: fuzz.sh long MINUTES"
    build
    logs="$FUZZ/logs"
    mkdir -p "$logs"
    per=$(( minutes * 60 / ${#TARGETS[@]} ))
    summary="$logs/summary-$(date -u +%Y%m%dT%H%M%SZ).txt"
    echo "fuzz.sh long: ${minutes} min total, ${per} s per target, nice 19; started $(date -u +%FT%TZ)" | tee "$summary"
    failed=0
    for t in "${TARGETS[@]}"; do
      run "$t" "$per" "$logs/$t.log" 19 | tee -a "$summary" || failed=1
    done
    echo "finished $(date -u +%FT%TZ); failed=$failed" | tee -a "$summary"
    exit "$failed"
    ;;
  *)
    die "usage: fuzz.sh short [SECONDS] | long MINUTES | build"
    ;;
esac
