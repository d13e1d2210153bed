#!/usr/bin/env bash
# Run Debian's /usr/bin/python3 with pycaffe (built by reference/build_caffe.sh,
# i.e. `make caffe`) on PYTHONPATH: caffe_python.sh SCRIPT.py ARGS... (or -c CODE).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYDIR=${CAFFE_BUILD_DIR:-$REPO/build/caffe}/src/python
if [ ! -e "$PYDIR/caffe/_caffe.so" ]; then
  echo "pycaffe not built; run \`make caffe\`" >&2
  exit 1
fi
# Only pycaffe on the path: nothing from the project .venv may leak in.
unset PYTHONHOME
export PYTHONPATH=$PYDIR GLOG_minloglevel=2
exec /usr/bin/python3 "$@"
