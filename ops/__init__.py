"""Operator tools for a deployed stack: start a pipeline by hand, redrive dead letters."""
