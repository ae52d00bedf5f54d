#!/usr/bin/env bash
# One place that knows how to get a Rust -> wasm32-wasip2 toolchain and build the guest components.
#
#   scripts/toolchain.sh install          install what is missing (idempotent, quick when present)
#   scripts/toolchain.sh build [--test]   build the provider components (and with --test the test fixtures)
#   scripts/toolchain.sh env              print the environment a guest build needs (for `eval`)
#
# Where `rustup target add wasm32-wasip2` works (a developer's own machine), that is used. Otherwise
# (these CI machines cannot download rustup targets) Debian's rustc-web + rust-web-src give a rustc with
# std sources, and std is built from source with -Zbuild-std. See ../shared/toolchain.md for why each
# flag is here.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=wasm32-wasip2
out="$root/target/components"

have_rustup_target() {
  command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$target"
}

try_rustup_target() {
  command -v rustup >/dev/null 2>&1 || return 1
  have_rustup_target && return 0
  # Short timeout: on machines without access to static.rust-lang.org this would otherwise hang.
  timeout 60 rustup target add "$target" >/dev/null 2>&1
}

have_debian_toolchain() {
  [ -x /usr/bin/rustc ] && [ -f /usr/lib/rustlib/src/rust/library/Cargo.lock ] \
    && [ -f /usr/lib/wasm32-wasi/libc.a ] && [ -x /usr/bin/wasm-ld-22 ]
}

install_debian_toolchain() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rustc-web rust-web-src wasi-libc lld-22 >/dev/null
}

# FREEBUSY_WASM_TOOLCHAIN=debian|rustup forces one way (CI uses it to prove the Debian path works).
mode() {
  case "${FREEBUSY_WASM_TOOLCHAIN:-}" in
    debian) have_debian_toolchain && { echo debian; return; } ;;
    rustup) have_rustup_target && { echo rustup; return; } ;;
  esac
  [ "${FREEBUSY_WASM_TOOLCHAIN:-}" = debian ] && { echo none; return; }
  if have_rustup_target; then echo rustup; return; fi
  if have_debian_toolchain; then echo debian; return; fi
  echo none
}

install() {
  if [ "${FREEBUSY_WASM_TOOLCHAIN:-}" = debian ]; then
    have_debian_toolchain || install_debian_toolchain
    return 0
  fi
  if have_rustup_target || have_debian_toolchain; then return 0; fi
  if try_rustup_target; then echo "toolchain: using rustup's $target target" >&2; return 0; fi
  echo "toolchain: rustup target unavailable, installing Debian's rustc-web + rust-web-src + wasi-libc + lld-22" >&2
  install_debian_toolchain
  have_debian_toolchain || { echo "toolchain: install failed" >&2; exit 1; }
}

# Environment for a guest build, one `export` per line.
guest_env() {
  case "$(mode)" in
    rustup) echo "export CARGO_GUEST_FLAGS=" ;;
    debian)
      echo "export RUSTC=/usr/bin/rustc"
      echo "export RUSTC_BOOTSTRAP=1"
      echo "export RUSTFLAGS='-L /usr/lib/wasm32-wasi -C link-arg=--wasm-ld-path=/usr/bin/wasm-ld-22'"
      echo "export CARGO_GUEST_FLAGS='-Zbuild-std=std,panic_abort'"
      ;;
    *) echo "toolchain: not installed; run scripts/toolchain.sh install" >&2; exit 1 ;;
  esac
}

# build            the provider components
# build --edge     also the Spin edge component
# build --test     also the edge and the test fixtures
build() {
  install
  local packages=(-p freebusy-graph -p freebusy-ews -p freebusy-caldav) edge=no
  case "${1:-}" in
    --test) packages+=(-p freebusy-provider-template -p fixture-forbidden-host -p fixture-spin-forever -p fixture-misbehave -p fixture-no-io -p fixture-legacy-v0-1 -p fixture-legacy-v0-2); edge=yes ;;
    --edge) edge=yes ;;
  esac
  (
    eval "$(guest_env)"
    cd "$root/plugins"
    # shellcheck disable=SC2086
    cargo build --release --target "$target" $CARGO_GUEST_FLAGS "${packages[@]}"
    if [ $edge = yes ]; then
      cd "$root/edge"
      # shellcheck disable=SC2086
      cargo build --release --target "$target" $CARGO_GUEST_FLAGS
    fi
  )
  mkdir -p "$out"
  cp -f "$root"/plugins/target/$target/release/*.wasm "$out/"
  if [ $edge = yes ]; then cp -f "$root"/edge/target/$target/release/freebusy_edge.wasm "$out/"; fi
  ls -l "$out" >&2
}

case "${1:-}" in
  install) install ;;
  build) shift; build "$@" ;;
  env) guest_env ;;
  *) echo "usage: $0 install | build [--test] | env" >&2; exit 2 ;;
esac
