#!/usr/bin/env bash
# The GPU check of the training stage, sized to one 10-minute run on a lent GPU machine that has
# PyTorch with CUDA and nvcc but reaches no package index.
#
#   bash bench/gpu_check.sh --prepare   # here, with PyPI: fill .gpucheck/ (at most 64 MiB)
#   bash bench/gpu_check.sh             # there: build, compare, train; the figures go to $OUT
#   bash bench/gpu_check.sh --dry-run   # here, without a GPU: every step that needs no CUDA
#
# What it does on the GPU machine, in order, printing Markdown tables for docs/benchmarks.md:
#   1. installs the carried wheels (pycolmap, plyfile) for that machine's Python;
#   2. builds gsplat 1.5.3's CUDA extension from its sdist for that GPU, with that machine's
#      torch and nvcc, and times the build;
#   3. compares our CPU rasterizer with gsplat's CUDA rasterization on random scenes, forward and
#      gradients (bench/gpu_compare.py);
#   4. trains the standard preset on brighton_beach (the SfM stage's output for the shared set at
#      1600 px, made here) for a fixed budget: steps/s, held-out PSNR against steps, peak GPU
#      memory (bench/train.py).
# .gpucheck/ is ignored by git; carry it: run(command="bash bench/gpu_check.sh", carry=[".gpucheck"]).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
carry=.gpucheck
out="${OUT:-$carry/out}"
train_seconds="${GPU_CHECK_TRAIN_SECONDS:-120}"  # fits after a build of ~5 min on 16 cores
device_python="${GPU_CHECK_PYTHON:-3.12}"
mode="${1:-run}"
python="${GPU_CHECK_PYTHON_BIN:-python3}"  # the machine's Python with PyTorch
log() { printf '\n### %s (%s)\n\n' "$*" "$(date -u +%H:%M:%S)"; }

prepare() {
    local venv="${PYTHON:-.venv/bin/python}"
    mkdir -p "$carry/wheels"
    grep -qx "/$carry/" .git/info/exclude 2>/dev/null || echo "/$carry/" >> "$(git rev-parse --git-path info/exclude)"
    log "wheels the GPU machine lacks, for Python $device_python"
    "$venv" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$device_python" \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$carry/wheels" pycolmap==4.2.1 plyfile==1.1.5
    log "gsplat's sdist"
    BUILD_NO_CUDA=1 "$venv" -m pip download --quiet --no-deps --no-binary gsplat --no-build-isolation \
        -d "$carry" gsplat==1.5.3
    if [ ! -d "$carry/brighton_beach_sfm" ]; then
        log "the SfM stage on the shared brighton_beach photos, at 1600 px"
        local work
        work=$(mktemp -d)
        mkdir -p "$work/processing/input"
        "$venv" -c "import shutil, sys; shutil.make_archive(sys.argv[1], 'zip', sys.argv[2])" \
            "$work/processing/input/photos" "${BRIGHTON_BEACH:-$here/../shared/datasets/brighton_beach}/images"
        SPLATFLOW_ML_ROOT="$work" "$venv" -m splatflow.stages.sfm --image-max-size 1600
        # The undistorted photos (about 1 MB each) are re-encoded at JPEG quality 75 to fit the carry.
        "$venv" -c "import sys; from PIL import Image
for path in sys.argv[1:]: Image.open(path).save(path, quality=75)" "$work"/processing/output/images/*
        mv "$work/processing/output" "$carry/brighton_beach_sfm"
        rm -rf "$work"
    fi
    du -sh "$carry" "$carry"/*
    local total
    total=$(( $(du -sk "$carry" | cut -f1) + $(git ls-files -z | du -ck --files0-from=- | tail -1 | cut -f1) ))
    echo "tree + $carry: $((total / 1024)) MiB of the 64 MiB a run may carry"
    [ "$total" -le $((64 * 1024)) ]
}

install_wheels() {
    # --target keeps the machine's own packages (torch, numpy) as they are.
    site=$(mktemp -d)
    "$python" -m pip install --quiet --no-index --no-deps --no-compile --target "$site" "$carry"/wheels/*.whl
    export PYTHONPATH="$site:$here/include"
}

build_gsplat() {
    local arch started
    arch=$("$python" -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")
    log "gsplat 1.5.3 from its sdist for sm_${arch/./} ($(nvcc --version | tail -1))"
    started=$(date +%s)
    TORCH_CUDA_ARCH_LIST="$arch" MAX_JOBS="$(nproc)" "$python" -m pip install --quiet --no-index --no-deps \
        --no-build-isolation --no-compile --target "$site" "$carry"/gsplat-1.5.3.tar.gz
    "$python" -c "import gsplat.csrc"
    echo "built and loaded in $(( $(date +%s) - started )) s on $(nproc) cores"
}

run_checks() {
    local device=$1 train_width=$2
    log "our CPU rasterizer against gsplat's $device rasterization"
    "$python" bench/gpu_compare.py --device "$device"
    log "standard preset on brighton_beach, $train_seconds s"
    "$python" bench/train.py --counts --sfm "$carry/brighton_beach_sfm" --preset standard \
        --seconds "$train_seconds" --max-width "$train_width"
}

mkdir -p "$out"
case "$mode" in
    --prepare)
        prepare
        ;;
    --dry-run)
        # Here: the carried wheels must install for the GPU machine's Python, and the rest must
        # run on a CPU (where the comparison's reference is our own rasterizer in float64, see
        # gpu_compare.py: the plumbing is checked, not gsplat).
        log "dry run: the carried wheels install for Python $device_python"
        python="${GPU_CHECK_PYTHON_BIN:-.venv/bin/python}"
        "$python" -m pip install --quiet --no-index --no-deps --dry-run --target "$(mktemp -d)" \
            --python-version "$device_python" --only-binary=:all: --implementation cp \
            --platform manylinux_2_28_x86_64 "$carry"/wheels/*.whl
        tar -tzf "$carry"/gsplat-1.5.3.tar.gz gsplat-1.5.3/setup.py > /dev/null
        export PYTHONPATH="$here/include"
        train_seconds="${GPU_CHECK_TRAIN_SECONDS:-20}"
        run_checks cpu 320 2>&1 | tee "$out/gpu_check.log"
        ;;
    run)
        {
            log "machine"
            nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
            "$python" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda)"
            install_wheels
            build_gsplat
            run_checks cuda 1600
        } 2>&1 | tee "$out/gpu_check.log"
        ;;
    *)
        echo "usage: $0 [--prepare | --dry-run]" >&2
        exit 2
        ;;
esac
