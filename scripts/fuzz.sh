#!/usr/bin/env bash
# On-demand fuzzing of the core's decoders (frame check, scan, segment header, event payload)
# with cargo-fuzz and libFuzzer. The target bodies live in wasm-core/src/fuzzing.rs and are
# also replayed by `cargo test` (wasm-core/tests/fuzz_corpus.rs) over test/fuzz-corpus/.
#
#   scripts/fuzz.sh                       every target, 60 s each
#   scripts/fuzz.sh scan 300              one target (scan|frame|header|event|all), N seconds
#   scripts/fuzz.sh scan --reproduce FILE run one input (a crash artifact) and show the panic
#   scripts/fuzz.sh cmin [target]         drop fuzzer-found corpus files that add no coverage
#
# Inputs that add coverage are merged into test/fuzz-corpus/<target>/ (libFuzzer -merge=1);
# commit them if they are worth keeping. A crash or a hang lands in
# wasm-core/fuzz/artifacts/<target>/ and makes the script fail.
#
# Toolchain: cargo-fuzz needs nightly compiler flags. It uses, in order: the rustup nightly
# toolchain; rustup stable with RUSTC_BOOTSTRAP=1 (both ship ASan); Debian's rustc with
# RUSTC_BOOTSTRAP=1 and no sanitizer (Debian ships no ASan runtime for Rust; safe Rust needs
# none to find panics, overflows and hangs). libFuzzer's C++ is built with c++ or clang++-22.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(scan frame header event)
fuzz_dir=wasm-core/fuzz
corpus_root=test/fuzz-corpus
# Corpus files stay small; libFuzzer's own default is 4096 too.
input_bytes_max=4096

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ---- toolchain ----
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io" >&2
  cargo install --locked cargo-fuzz >&2
fi
if ! command -v c++ >/dev/null 2>&1 && command -v clang++-22 >/dev/null 2>&1; then
  export CXX=clang++-22 CC=clang-22
fi
cargo_fuzz=()
sanitizer=(--sanitizer address)
if command -v rustup >/dev/null 2>&1 && rustup run nightly rustc --version >/dev/null 2>&1; then
  cargo_fuzz=(cargo +nightly fuzz)
elif command -v rustup >/dev/null 2>&1 && rustup run stable rustc --version >/dev/null 2>&1; then
  export RUSTC_BOOTSTRAP=1
  cargo_fuzz=(cargo +stable fuzz)
elif [ -x /usr/bin/rustc ]; then
  export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc PATH="/usr/bin:$PATH"
  cargo_fuzz=(cargo-fuzz fuzz)
  sanitizer=(--sanitizer none)
else
  echo "fuzz: no Rust toolchain found (rustup nightly/stable or Debian's rustc)" >&2
  exit 1
fi
run() { "${cargo_fuzz[@]}" run --fuzz-dir "$fuzz_dir" "${sanitizer[@]}" "$@"; }

is_target() { local t; for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

# Moves the fuzzer-found files (not seed-*/regression-*) of a target's corpus out, then merges
# back only those that add coverage over the rest.
minimize() {
  local target=$1 corpus="$corpus_root/$1" spill
  spill=$(mktemp -d)
  find "$corpus" -maxdepth 1 -type f ! -name 'seed-*' ! -name 'regression-*' -exec mv {} "$spill" \;
  run "$target" "$corpus" "$spill" -- -merge=1 -max_len=$input_bytes_max >"$spill.log" 2>&1 \
    || { cat "$spill.log" >&2; exit 1; }
  rm -rf "$spill" "$spill.log"
  echo "fuzz: $target corpus: $(find "$corpus" -type f | wc -l) files, $(du -sk "$corpus" | cut -f1) KiB"
}

case "${1:-all}" in
  -h|--help) usage ;;
  cmin)
    selected=("${targets[@]}")
    [ -n "${2:-}" ] && { is_target "$2" || usage; selected=("$2"); }
    for target in "${selected[@]}"; do minimize "$target"; done
    exit 0 ;;
esac

target=${1:-all}
if [ "${2:-}" = "--reproduce" ]; then
  is_target "$target" && [ -f "${3:-}" ] || usage
  run "$target" "$3"
  exit $?
fi
seconds=${2:-60}
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
if [ "$target" = all ]; then selected=("${targets[@]}"); else is_target "$target" || usage; selected=("$target"); fi

logs=$(mktemp -d)
total=0
failed=()
for target in "${selected[@]}"; do
  corpus="$corpus_root/$target"
  # New inputs go to a scratch corpus first (libFuzzer writes into the first directory);
  # afterwards only those that add coverage are merged into the committed one.
  scratch="$fuzz_dir/corpus/$target"
  mkdir -p "$corpus" "$scratch"
  echo "fuzz: $target for ${seconds}s ($(find "$corpus" -type f | wc -l) corpus files)" >&2
  status=0
  run "$target" "$scratch" "$corpus" -- \
    -max_total_time="$seconds" -max_len=$input_bytes_max -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1 \
    >"$logs/$target.log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$target.log" | tail -1)
  executions=${executions:-0}
  total=$((total + executions))
  if [ "$status" != 0 ]; then
    failed+=("$target")
    grep -E "panicked at|^(attempt|thread)|ERROR: libFuzzer|SUMMARY|Failing input|artifact" -A1 "$logs/$target.log" | head -20 >&2
    echo "fuzz: $target FAILED after $executions executions; full log: $logs/$target.log" >&2
    continue
  fi
  before=$(find "$corpus" -type f | wc -l)
  run "$target" "$corpus" "$scratch" -- -merge=1 -max_len=$input_bytes_max >"$logs/$target.merge.log" 2>&1
  rm -rf "$scratch"
  after=$(find "$corpus" -type f | wc -l)
  echo "fuzz: $target: $executions executions, no crash; corpus $before -> $after files" >&2
done
echo "fuzz: $total executions in all${failed:+; FAILED: ${failed[*]}}"
[ ${#failed[@]} = 0 ]
