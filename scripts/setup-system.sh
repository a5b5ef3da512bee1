#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages convkit's quick start, tests and notebooks need:
# Fashion-MNIST (dataset-fashion-mnist) and a headless Jupyter (nbclient, jupyter-client, nbconvert,
# ipykernel for `npm run notebook`), and oneDNN's headers (libdnnl-dev) with a C++ toolchain for @convkit/native's
# addon (g++, make). Skips what is already there; uses sudo when not root.
set -euo pipefail
pkgs=(dataset-fashion-mnist python3-nbclient jupyter-client jupyter-nbconvert python3-ipykernel libdnnl-dev g++ make)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${pkgs[*]})"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "system packages missing (${missing[*]}) and apt-get is not available." >&2
  echo "Fashion-MNIST: put the four IDX .gz files in ~/.cache/convkit/fashion-mnist (convkit downloads them when online)." >&2
  echo "Notebooks: install Jupyter with nbclient from your system's packages." >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed"
