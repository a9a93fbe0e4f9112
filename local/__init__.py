"""The stack on this machine: the demos, the local emulators, in-process invokes, the offline template model, and
the container engine and Lambda image `sam local` runs in."""
