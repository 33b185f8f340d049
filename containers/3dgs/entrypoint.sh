#!/bin/sh
# Usage: splatflow-entrypoint <module> [arguments...]
#
# Runs `python -m <module> [arguments...]`. SageMaker Training starts a training image as
# `docker run <image> train`, so with an image ENTRYPOINT the stage would receive a literal
# "train" argument it does not take; a leading "train" is dropped and everything else passed on.
set -eu
module="$1"
shift
if [ "${1-}" = "train" ]; then
    shift
fi
exec python -m "$module" "$@"
