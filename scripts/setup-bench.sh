#!/usr/bin/env bash
# The benchmarks' peers, from Debian: PyTorch (python3-torch, under /usr/bin/python3), torchvision and OpenBLAS with
# pthreads. `npm run bench` (core, augment) and `npm run bench:tta -w @convkit/core` call this first; tests and CI
# never need them. Without apt-get (or without the rights to use it) it says what is missing and the benches run
# convkit's rows alone.
set -u
pkgs=(python3-torch python3-torchvision libopenblas0-pthread)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "bench peers missing (${missing[*]}) and apt-get is not available: the benches will measure convkit alone." >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
echo "bench peers: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  echo "bench peers: could not install ${missing[*]}: the benches will measure convkit alone." >&2
fi
exit 0
