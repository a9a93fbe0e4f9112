"""Helpers the tests share: the function's environment, sample events, reading its output, the AWS fakes."""
