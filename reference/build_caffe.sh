#!/usr/bin/env bash
# Build real Caffe (CPU only, pycaffe for Debian's /usr/bin/python3) for the
# reference comparisons. Called by `make caffe`; safe to re-run (a built,
# importable pycaffe makes it exit at once).
#
# Source: the PyPI sdist brocolli-caffe (a BVLC Caffe fork), fetched with pip
# into a cache; its setup.py (which wants conda) is ignored and we build with
# CMake against Debian packages. Fixes applied to the unpacked sdist:
#   - python/CMakeLists.txt links -lboost_python; Debian names it boost_python311.
#   - src/caffe/net.cpp includes caffe/test/test_caffe_main.hpp (unused; gtest
#     is not on the include path), so that line is dropped.
#   - python/caffe/io.py lost upstream's `from skimage.transform import resize`
#     (needed by caffe.Classifier); restored.
# Caveat: this fork's pooling option is a bool `ceil_mode` where upstream has
# the enum `round_mode` (same field number 13).
#
# Layout under ${CAFFE_BUILD_DIR:-<repo>/build/caffe}:
#   sdist/  downloaded tarball    src/  patched sources (src/python = pycaffe)
#   cmake/  CMake build tree      env.sh  exports PYTHONPATH, GLOG_minloglevel
# Caffe runs only under /usr/bin/python3 (its numpy matches the build), never
# in the project's .venv.
set -euo pipefail

VERSION=9.0.2
PY=/usr/bin/python3
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${CAFFE_BUILD_DIR:-$REPO/build/caffe}
SRC=$BUILD_DIR/src
PYDIR=$SRC/python
APT_PACKAGES=(build-essential cmake libprotobuf-dev protobuf-compiler
  python3-protobuf libgoogle-glog-dev libgflags-dev libhdf5-dev
  libboost-system-dev libboost-thread-dev libboost-filesystem-dev
  libboost-python-dev libboost-regex-dev libopenblas-dev python3-dev
  python3-pip python3-numpy python3-scipy python3-skimage)

log() { echo "build_caffe: $*" >&2; }

caffe_ok() {
  [ -e "$PYDIR/caffe/_caffe.so" ] && [ -x "$PY" ] &&
    PYTHONPATH=$PYDIR GLOG_minloglevel=2 "$PY" -c 'import caffe' >/dev/null 2>&1
}

finish() {
  cat > "$BUILD_DIR/env.sh" <<ENV
# Source this to run pycaffe: PYTHONPATH=... /usr/bin/python3 script.py
export PYTHONPATH="$PYDIR"
export GLOG_minloglevel=2
ENV
  echo "caffe: pycaffe at $PYDIR (run with PYTHONPATH=$PYDIR $PY)"
  exit 0
}

# Replace regex $2 by $3 in file $1; fail loudly if $2 is absent (sdist changed).
patch_src() {
  grep -q -- "$2" "$1" || { log "pattern '$2' not found in $1 -- sdist changed?"; exit 1; }
  sed -i "s|$2|$3|" "$1"
}

if caffe_ok; then finish; fi

# 1. System packages (only when something is missing, so re-runs need no network).
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# 2. Sources: download the sdist once, unpack + patch into src/ (stamped).
TARBALL=$BUILD_DIR/sdist/brocolli-caffe-$VERSION.tar.gz
if [ ! -f "$TARBALL" ]; then
  mkdir -p "$BUILD_DIR/sdist"
  "$PY" -m pip download --quiet --no-deps --no-binary :all: \
    -d "$BUILD_DIR/sdist" "brocolli-caffe==$VERSION" </dev/null
fi
if [ ! -f "$SRC/.patched" ]; then
  rm -rf "$SRC" "$BUILD_DIR/cmake"
  mkdir -p "$SRC"
  # (the sdist also carries a stray .git/ and uid-1001 ownership; skip both)
  tar -xzf "$TARBALL" -C "$SRC" --strip-components=1 --no-same-owner --exclude=.git
  pyver=$("$PY" -c 'import sys; print("%d%d" % sys.version_info[:2])')
  patch_src "$SRC/python/CMakeLists.txt" '-lboost_python ' "-lboost_python$pyver "
  patch_src "$SRC/src/caffe/net.cpp" '^#include "caffe/test/test_caffe_main.hpp"$' ''
  patch_src "$SRC/python/caffe/io.py" '^import skimage.io$' \
    'import skimage.io\nfrom skimage.transform import resize'
  touch "$SRC/.patched"
fi

# 3. Configure and build (incremental if interrupted before).
pyminor=$("$PY" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
numpy_inc=$("$PY" -c 'import numpy; print(numpy.get_include())')
cmake -S "$SRC" -B "$BUILD_DIR/cmake" -DCMAKE_BUILD_TYPE=Release \
  -DCPU_ONLY=ON -DBUILD_python=ON -DBUILD_python_layer=OFF -DUSE_HDF5=OFF \
  -DANACONDA_HOME=/usr -DPYTHON_VERSION="$pyminor" -DPYTHON_EXECUTABLE="$PY" \
  -DCMAKE_CXX_FLAGS="-I/usr/include/hdf5/serial -I$numpy_inc" \
  -DCMAKE_SHARED_LINKER_FLAGS=-L/usr/lib/x86_64-linux-gnu/hdf5/serial
make -C "$BUILD_DIR/cmake" -j"${CAFFE_JOBS:-$(nproc)}"

caffe_ok || { log "build finished but 'import caffe' fails under $PY"; exit 1; }
finish
