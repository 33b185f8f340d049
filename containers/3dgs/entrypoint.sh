#!/bin/sh
# Usage: splatflow-entrypoint <module> [arguments...]
#
# Runs `python -m <module> [arguments...]`, after two things SageMaker Training needs:
#
# - SageMaker starts a training image as `docker run <image> train`, so with an image ENTRYPOINT
#   the stage would receive a literal "train" argument it does not take; a leading "train" is
#   dropped and everything else passed on.
# - CUDA forward compatibility, as AWS's PyTorch training images set it up
#   (aws/deep-learning-containers, start_cuda_compat.sh): the image's CUDA may be newer than the
#   host's driver, and NVIDIA's compat libraries in $SPLATFLOW_CUDA_COMPAT_DIR (default
#   /usr/local/cuda/compat, where libcuda.so.1 links to libcuda.so.<driver version>) let it run
#   on an older data-center driver. They must be used only then: on a driver of the same or a
#   newer branch they break CUDA (error 803), so they go first on the library path only when the
#   host driver's major version is below theirs, the rule NVIDIA's container toolkit applies.
#   Without a GPU or without the libraries (the CPU image) nothing changes; whether CUDA then
#   starts is the stage's to check (splatflow.stages.train.device), in one line naming both.
set -eu

module="$1"
shift
if [ "${1-}" = "train" ]; then
    shift
fi

compat_dir="${SPLATFLOW_CUDA_COMPAT_DIR:-/usr/local/cuda/compat}"
compat_library=$(readlink "$compat_dir/libcuda.so.1" 2>/dev/null || true)
compat_version="${compat_library#libcuda.so.}"
host_version=$(timeout 30 nvidia-smi --query-gpu=driver_version --format=csv,noheader --id=0 2>/dev/null || true)
case "$compat_version:$host_version" in
    [0-9]*.*:[0-9]*.*)
        if [ "${host_version%%.*}" -lt "${compat_version%%.*}" ]; then
            export LD_LIBRARY_PATH="$compat_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            echo "NVIDIA driver $host_version is older than the image's CUDA needs: using the forward-compatibility libraries of driver $compat_version" >&2
        else
            echo "NVIDIA driver $host_version runs the image's CUDA natively" >&2
        fi
        ;;
esac

exec python -m "$module" "$@"
