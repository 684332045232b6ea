#!/usr/bin/env bash
# Run on a Debian 12 machine with network access to Debian's archive (not on the GPU machine): gathers
# what the GPU machine lacks into .gpu-deps/ (git-ignored), to be carried there with the working tree:
#   .gpu-deps/prefix        header-only CLI11 and nlohmann-json, and libpng (headers + library), unpacked
#                           from Debian's .debs with dpkg -x (the GPU machine cannot fetch packages)
#   .gpu-deps/fashion-mnist the four Fashion-MNIST .gz files (about 30 MB) from dataset-fashion-mnist
#   .gpu-deps/reference     a copy of ../shared/reference (the PyTorch baselines), where there is one:
#                           a lent GPU machine sees only the working tree
# Usage: tools/gpu/fetch-deps.sh [DEST (default .gpu-deps)]
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=${1:-.gpu-deps}
mkdir -p "$dest/debs" "$dest/prefix" "$dest/fashion-mnist"
(cd "$dest/debs" && apt-get download libcli11-dev nlohmann-json3-dev libpng-dev libpng16-16 >/dev/null)
for deb in "$dest"/debs/*.deb; do dpkg -x "$deb" "$dest/prefix"; done
rm -rf "$dest/debs"
fmnist=/usr/share/datasets/fashion-mnist
[ -d "$fmnist" ] || { echo "fetch-deps: $fmnist missing: apt-get install dataset-fashion-mnist" >&2; exit 1; }
cp "$fmnist"/*.gz "$dest/fashion-mnist/"
if [ -f ../shared/reference/pytorch_reference.py ]; then
  rm -rf "$dest/reference" && cp -r ../shared/reference "$dest/reference" && chmod -R u+w "$dest/reference"
fi
grep -qx '/.gpu-deps/' .git/info/exclude 2>/dev/null || echo '/.gpu-deps/' >> "$(git rev-parse --git-path info/exclude)"
du -sh "$dest"
