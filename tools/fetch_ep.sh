#!/usr/bin/env bash
# Fetches a plugin execution provider for ONNX Runtime from its wheel on PyPI and puts it in
# .ort/<name>/ (git-ignored), with the libraries it needs beside it. Prints the plugin's path.
# Idempotent: a plugin already there (same version) is not fetched again.
#
#   openvino   onnxruntime-ep-openvino 1.8.1 (Linux x86_64): the OpenVINO plugin EP
#              libonnxruntime_providers_openvino_plugin.so, registered into ONNX Runtime 1.31.1
#              (tools/fetch_ort.sh) with RegisterExecutionProviderLibrary, and OpenVINO's own
#              libraries (its CPU, GPU and NPU plugins, TBB), which the plugin finds in its
#              folder (RUNPATH $ORIGIN). sdrt finds it there for `--provider openvino`.
#
# Usage: tools/fetch_ep.sh openvino [DEST_DIR]   (DEST_DIR default .ort; the plugin goes in
# DEST_DIR/openvino/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ep="${1:-}"
case "$ep" in
  openvino)
    package=onnxruntime-ep-openvino
    VERSION=1.8.1
    lib=libonnxruntime_providers_openvino_plugin.so
    platform="$(uname -s)-$(uname -m)"
    if [ "$platform" != Linux-x86_64 ]; then
      echo "fetch_ep.sh: $package has no wheel for $platform here (Linux x86_64 only);" \
        "install the plugin yourself and set SDRT_OPENVINO_EP to its path" >&2
      exit 1
    fi
    ;;
  *)
    echo "usage: tools/fetch_ep.sh openvino [DEST_DIR]" >&2
    exit 2
    ;;
esac
dest="${2:-$root/.ort}/$ep"
stamp="$dest/.fetched"
if [ -f "$dest/$lib" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$package $VERSION" ]; then
  echo "$dest/$lib"
  exit 0
fi
py="$(command -v python3 || command -v python)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  "$package==$VERSION" -d "$tmp" >&2
wheels=("$tmp"/"${package//-/_}"-"$VERSION"-*.whl)
wheel="${wheels[0]}"
# Extracted into a fresh folder beside the destination, then swapped in: an interrupted fetch
# leaves no half-filled plugin folder behind.
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
"$py" - "$wheel" "$dest.tmp" "$lib" <<'PY'
import os, sys, zipfile
wheel, dest, lib = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    found = False
    for info in z.infolist():
        name = os.path.basename(info.filename)
        # The shared libraries (the plugin, OpenVINO, its device plugins, TBB), and the GPU
        # plugin's kernel tuning cache.
        if info.filename.endswith("/") or not (".so" in name or name == "cache.json"):
            continue
        found |= name == lib
        with z.open(info) as src, open(os.path.join(dest, name), "wb") as out:
            out.write(src.read())
        os.chmod(os.path.join(dest, name), 0o755 if ".so" in name else 0o644)
    if not found:
        sys.exit(f"{lib} not found in {wheel}")
PY
echo "$package $VERSION" >"$dest.tmp/.fetched"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "$dest/$lib"
