#!/usr/bin/env bash
# The Debian packages the full report needs, installed once by `make report` / `make test`
# (and by .ci/run through them). apt-get runs when we are root or sudo works without a
# password; otherwise one line names the exact command and the run goes on: what needs a
# missing package is skipped with its reason and shows as not-tested in the report.
#
# usage: scripts/setup.sh [STAMP]   (STAMP is touched once every package is present)
# WASM_CLAIMS_SETUP_STRICT=1 makes a failed install on Debian an error (CI).
set -uo pipefail

# rustc + libstd-rust-dev-wasm32 + lld-14 (rust-lld): the Rust wasm32-wasi variant;
# qemu-user-static + arm64 libc/libgcc: foreign-arch rows (the aarch64 wasmtime CLI needs libgcc);
# strace: syscall counts; nodejs: the node:wasi runtime; python3-venv: `make venv`;
# chromium: the report's headless-browser test; binaryen: wasm-opt for the optimised .wasm size.
PACKAGES=(rustc libstd-rust-dev-wasm32 lld-14 qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross
          strace nodejs python3-venv chromium binaryen)
STAMP="${1:-}"
STRICT="${WASM_CLAIMS_SETUP_STRICT:-0}"

say() { echo "setup: $*"; }
give_up() {  # one line, then go on (or fail under STRICT)
  say "$*" >&2
  [ "$STRICT" = 1 ] && exit 1
  exit 0
}

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  say "no apt-get/dpkg here: install the equivalents of ${PACKAGES[*]} yourself; until then their rows are skipped with the reason" >&2
  exit 0  # not Debian: nothing to enforce, even under STRICT
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  [ -n "$STAMP" ] && touch "$STAMP"
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  give_up "${#missing[@]} Debian packages missing; to add their rows run: sudo apt-get install -y --no-install-recommends ${missing[*]}"
fi

export DEBIAN_FRONTEND=noninteractive
say "installing ${#missing[@]} Debian packages (once): ${missing[*]}"
say "apt-get update ..."
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null || say "apt-get update failed; trying with the package lists there are"
installable=()
for p in "${missing[@]}"; do
  if apt-cache show "$p" >/dev/null 2>&1; then installable+=("$p"); else unknown+=("$p"); fi
done
[ ${#installable[@]} -gt 0 ] || give_up "none of ${missing[*]} is known to apt here; their rows are skipped with the reason"
# Show each package as it is set up: a first install (chromium, rustc) takes minutes.
"${sudo[@]}" apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 -o Dpkg::Progress-Fancy=0 "${installable[@]}" 2>&1 \
  | grep --line-buffered -E '^(Setting up|E:|Err)' | sed -u 's/^/setup:   /'
status=${PIPESTATUS[0]}
[ "$status" = 0 ] || give_up "apt-get install failed (exit $status); rows needing ${installable[*]} are skipped with the reason"
if [ -n "${unknown[*]:-}" ]; then
  give_up "not known to apt here: ${unknown[*]}; their rows are skipped with the reason"
fi
say "done"
[ -n "$STAMP" ] && touch "$STAMP"
exit 0
