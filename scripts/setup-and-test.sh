#!/usr/bin/env bash
# npm run test:all — the one test command, for a fresh Debian 12 / Ubuntu machine: install everything
# the tests need, saying what, then run `npm test`. CI (.ci/run) runs exactly this. Safe to run again:
# apt skips what is installed, npm ci runs only when node_modules/ is missing, the Jupyter venv is
# rebuilt only when scripts/jupyter-requirements.txt changes.
#   GOOGLENET_SKIP_APT=1  skip the apt-get steps (a machine set up already, or no root)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if [ "${GOOGLENET_SKIP_APT:-}" != 1 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "== apt: PyTorch 1.13 (test oracle), Chromium (browser tests), python3-venv (the Jupyter venv)"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends \
    python3-torch python3-torchvision python3-numpy python3-pil python3-venv \
    chromium fonts-dejavu-core ca-certificates >/dev/null

  echo "== apt: clang, lld and wabt (a test rebuilds the committed wasm SIMD kernels and compares)"
  $SUDO apt-get install -y -qq --no-install-recommends clang-16 lld-16 wabt >/dev/null

  echo "== apt: Mesa 25 software Vulkan from bookworm-backports (WebGPU tests; Dawn refuses Mesa 22)"
  if grep -qs 'bookworm' /etc/os-release; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=http://deb.debian.org/debian
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "deb $uri bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
    fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  else
    # Ubuntu 24.04 and newer Debian ship Mesa 24+ in their main archive.
    $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
  fi
fi

if [ ! -d node_modules ]; then
  echo "== npm ci (node_modules/ is missing)"
  npm ci --no-audit --no-fund
fi

echo "== JupyterLab 4 + Notebook 7 from PyPI into .venv-jupyter/ (scripts/jupyter-requirements.txt)"
node scripts/setup-jupyter.js

echo "== npm test"
npm test
