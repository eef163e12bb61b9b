# Installs whatever Grapevine's build and tests need and is missing; sourced by scripts/play
# and scripts/test. Skips what is already there at the right version. Reaches package
# registries only (crates.io, npm, Debian): Trunk runs offline with the tools installed here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TRUNK_VERSION=0.21.14
say() { printf '\033[1;33m[setup]\033[0m %s\n' "$*" >&2; }

export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# Rust: the pinned toolchain's targets and components (rust-toolchain.toml names them, but
# rustup adds them only when it installs the toolchain itself).
rustup target add wasm32-unknown-unknown thumbv7em-none-eabihf >/dev/null 2>&1 \
  || rustup target add wasm32-unknown-unknown thumbv7em-none-eabihf
rustup component add clippy rustfmt >/dev/null 2>&1 || rustup component add clippy rustfmt

# Debian: Chromium and its WebDriver, for browser tests and screenshots; iproute2's `ip` for
# the loopback-only network namespace live mode's WebRTC tests run in.
# Firefox ESR for live mode's Chromium-with-Firefox test; nftables' `nft` to block
# peer-to-peer traffic in that namespace (the relay's test); coturn's `turnserver` for the TURN
# test; brotli to precompress the page at build time (scripts/post-build); GNU parallel for the
# sharded sweep's test (cli/tests/sweep.rs), as a cluster without a scheduler would run one.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v ip >/dev/null \
    || ! command -v firefox-esr >/dev/null || ! command -v nft >/dev/null \
    || ! command -v turnserver >/dev/null || ! command -v brotli >/dev/null \
    || ! command -v parallel >/dev/null; then
  say "installing chromium, chromium-driver, firefox-esr, iproute2, nftables, coturn, brotli and parallel (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver firefox-esr iproute2 nftables coturn brotli parallel >/dev/null
fi

# Trunk, at a version that builds on Rust 1.95.
if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION (cargo; about 15 minutes the first time)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi

# wasm-bindgen-cli must equal the wasm-bindgen in Cargo.lock. Not --locked: its own lockfile
# pins a crate version the registry no longer has.
WBG_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WBG_VERSION" ]; then
  say "installing wasm-bindgen-cli $WBG_VERSION (cargo; about 6 minutes the first time)"
  cargo install wasm-bindgen-cli --version "=$WBG_VERSION"
fi
if ! grep -q "wasm_bindgen = \"$WBG_VERSION\"" Trunk.toml; then
  echo "Trunk.toml pins a wasm_bindgen other than Cargo.lock's $WBG_VERSION: update it" >&2
  exit 1
fi

# npm: binaryen's wasm-opt (Debian's is too old for this wasm) and playwright-core (it never
# downloads a browser; tests drive Debian's Chromium).
stamp=node_modules/.grapevine-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  say "installing npm dev dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
