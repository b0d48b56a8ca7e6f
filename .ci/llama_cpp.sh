#!/usr/bin/env bash
# llama-cpp-python for tests/engine/test_llama_cpp_server.py, the test against a real
# third-party OpenAI-compatible server. pip builds llama.cpp from source, 6-8 min on 2 idle
# cores (32 min on this session's shared, loaded machine); the wheel then stays in pip's
# wheel cache, and later runs on a machine with that cache take it in about 3 s.
#   start:  the server's pure-Python dependencies, then the wheel built in the background
#           (at low priority, while the rest of the test suite runs)
#   finish: wait for the build and install the wheel into .venv
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.3.36
WORK=.ci/.llama-cpp
# Portable x86-64 code: the default native build crashed on the Intel AVX-512 machines
# (AMX paths, ENV.md), and a cached wheel must run on whichever machine kind reuses it;
# AVX2, FMA and F16C run on both the AMD and the Intel kinds.
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
pip=(.venv/bin/python -m pip --disable-pip-version-check)
case "${1:-}" in
  start)
    mkdir -p "$WORK"
    rm -f "$WORK"/wheel/*.whl
    "${pip[@]}" install -q fastapi uvicorn sse-starlette starlette-context pydantic-settings diskcache jinja2
    nohup nice -n 10 "${pip[@]}" wheel -q --no-deps "llama-cpp-python==$VERSION" -w "$WORK/wheel" \
      >"$WORK/build.log" 2>&1 &
    echo $! >"$WORK/build.pid"
    ;;
  finish)
    pid=$(cat "$WORK/build.pid")
    while kill -0 "$pid" 2>/dev/null; do sleep 5; done
    wheel=$(find "$WORK/wheel" -name "llama_cpp_python-$VERSION-*.whl" 2>/dev/null | head -1)
    if [ -z "$wheel" ]; then
      echo "CI: building llama-cpp-python $VERSION failed; the end of its log:" >&2
      tail -30 "$WORK/build.log" >&2
      exit 1
    fi
    "${pip[@]}" install -q --no-deps "$wheel"
    ;;
  *)
    echo "usage: $0 start|finish" >&2
    exit 2
    ;;
esac
