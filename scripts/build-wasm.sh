#!/usr/bin/env bash
# Builds wasm-core into js/wasm/reeldb_core.wasm, byte-reproducibly.
# Installs Debian's Rust (which ships the std source) when missing: the rustup toolchains on
# these machines have no wasm32 target, so std is built from source with -Zbuild-std.
#   scripts/build-wasm.sh            build and copy into js/wasm/
#   scripts/build-wasm.sh --check    build and fail if the committed file differs
#   scripts/build-wasm.sh --install-only   only install the toolchain
set -euo pipefail
cd "$(dirname "$0")/.."

need_install=0
for tool in /usr/bin/cargo /usr/bin/rustc /usr/bin/rust-lld /usr/bin/clang-22 /usr/bin/llvm-ar-22; do
  [ -x "$tool" ] || need_install=1
done
[ -d /usr/lib/rustlib/src/rust/library ] || need_install=1
if [ "$need_install" = 1 ]; then
  echo "build-wasm: installing Debian's rustc-web, cargo-web, rust-web-src, lld-22, clang-22" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22 clang-22 >/dev/null
fi

[ "${1:-}" = "--install-only" ] && { echo "build-wasm: toolchain ready"; return 0 2>/dev/null || exit 0; }

export RUSTC=/usr/bin/rustc
export RUSTC_BOOTSTRAP=1
export CC_wasm32_unknown_unknown=clang-22
export AR_wasm32_unknown_unknown=llvm-ar-22
export CARGO_TARGET_DIR="$PWD/target/wasm-build"
# Paths in panic messages would otherwise embed this checkout's location and the home dir.
export RUSTFLAGS="--remap-path-prefix=$PWD=/reeldb --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo --remap-path-prefix=/usr/lib/rustlib/src/rust=/rust -C target-feature=+bulk-memory,+mutable-globals,+sign-ext,+nontrapping-fptoint"

/usr/bin/cargo build --quiet --locked --release --target wasm32-unknown-unknown \
  -Zbuild-std=std,panic_abort -p reeldb-core

built="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/reeldb_core.wasm"
committed=js/wasm/reeldb_core.wasm
if [ "${1:-}" = "--check" ]; then
  if cmp -s "$built" "$committed"; then
    echo "build-wasm: $committed matches its source ($(stat -c %s "$built") bytes)"
  else
    echo "build-wasm: $committed differs from a fresh build of wasm-core: run 'npm run build:wasm' and commit it" >&2
    exit 1
  fi
else
  mkdir -p js/wasm
  cp "$built" "$committed"
  echo "build-wasm: wrote $committed ($(stat -c %s "$committed") bytes)"
fi
