#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages convkit's quick start, tests and notebooks need:
# Fashion-MNIST (dataset-fashion-mnist), a headless Jupyter (nbclient, jupyter-client, nbconvert, ipykernel), the
# notebook server that `npm run notebook` starts (jupyter-notebook, 6.4 on Debian 12), and oneDNN's headers
# (libdnnl-dev, and libjpeg62-turbo-dev for its JPEG decoder) with a C++ toolchain for @convkit/native's addon (g++, make), and the independent TensorBoard event-file
# reader of @convkit/loggers' tests (python3-protobuf, protobuf-compiler, python3-crc32c). Skips what is already there;
# uses sudo when not root.
set -euo pipefail
# WebGPU tests (@convkit/core, issue 14): Dawn refuses Debian 12's Mesa 22.3 lavapipe, and accepts the Vulkan driver of
# mesa-vulkan-drivers 25 from bookworm-backports, added on the mirror the system's own sources use.
lavapipe_ok() { dpkg --compare-versions "$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)" ge 23; }
if command -v apt-get >/dev/null && grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null && ! lavapipe_ok; then
  as_root=""
  [ "$(id -u)" -eq 0 ] || as_root="sudo"
  mirror=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "deb ${mirror%/} bookworm-backports main" | $as_root tee /etc/apt/sources.list.d/backports.list >/dev/null
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
  echo "system packages: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) from bookworm-backports (lavapipe, for WebGPU)"
fi
pkgs=(dataset-fashion-mnist python3-nbclient jupyter-client jupyter-nbconvert python3-ipykernel jupyter-notebook libdnnl-dev libjpeg62-turbo-dev g++ make python3-protobuf protobuf-compiler python3-crc32c)
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
