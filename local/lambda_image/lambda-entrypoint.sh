#!/bin/sh
# The image's own entry point, for `docker run IMAGE handler`. SAM replaces it with its emulator and never runs this.
if [ "$#" -ne 1 ]; then
    echo "usage: docker run IMAGE module.handler" >&2
    exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
    echo "this stand-in image carries no Runtime Interface Emulator: run it through sam local invoke" >&2
    exit 142
fi
exec /var/runtime/bootstrap
