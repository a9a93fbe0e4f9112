"""Models of the AWS services the function calls, with the rules the emulators leave out.

The tests' one CodePipeline and one S3 (docs/decisions.md, "The tests' AWS models"), and the ground the
scale benchmark runs on; they live here, not under tests/, because the benchmark may not import the tests.
"""
