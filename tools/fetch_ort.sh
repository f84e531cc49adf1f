#!/usr/bin/env bash
# Fetches ONNX Runtime 1.31.1's shared library from the `onnxruntime` wheel on PyPI and puts
# it in .ort/ (git-ignored). Prints the library's path. Linux and macOS.
# Usage: tools/fetch_ort.sh [DEST_DIR]
set -euo pipefail
VERSION=1.31.1
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/.ort}"
case "$(uname -s)" in
  Linux) lib="libonnxruntime.so.$VERSION"; link="libonnxruntime.so" ;;
  Darwin) lib="libonnxruntime.$VERSION.dylib"; link="libonnxruntime.dylib" ;;
  *) echo "fetch_ort.sh: unsupported OS $(uname -s); install ONNX Runtime $VERSION and set SDRT_ORT_LIBRARY" >&2; exit 1 ;;
esac
if [ -f "$dest/$lib" ]; then
  echo "$dest/$link"
  exit 0
fi
py="$(command -v python3 || command -v python)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  "onnxruntime==$VERSION" -d "$tmp" >&2
wheel="$(ls "$tmp"/onnxruntime-"$VERSION"-*.whl | head -n 1)"
mkdir -p "$dest"
"$py" - "$wheel" "$dest" "$lib" <<'PY'
import sys, zipfile, os
wheel, dest, lib = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith("/" + lib)]
    if not names:
        sys.exit(f"{lib} not found in {wheel}")
    with z.open(names[0]) as src, open(os.path.join(dest, lib), "wb") as out:
        out.write(src.read())
PY
ln -sf "$lib" "$dest/$link"
[ "$(uname -s)" = Linux ] && ln -sf "$lib" "$dest/libonnxruntime.so.1"
echo "$dest/$link"
