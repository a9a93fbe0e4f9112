"""Operator tools for a deployed stack or an account: start a pipeline by hand, redrive dead letters, and move
pipelines from polling or CloudTrail rules to this trigger (make migrate)."""
