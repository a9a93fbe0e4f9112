"""Adopts an existing S3 bucket: turns its EventBridge notifications on, and off again only if they were off."""
