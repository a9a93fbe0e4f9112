"""The stack on this machine: the demos, the local emulators, in-process invokes and the offline template model."""
