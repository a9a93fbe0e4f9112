"""S3 general purpose bucket naming rules, shared by the trigger's settings and the bucket adopter."""

import re

# 3-63 characters of a-z 0-9 . -, starting and ending with a letter or digit; two reserved prefixes.
_BUCKET_NAME = re.compile(r"(?!xn--)(?!sthree-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def is_bucket_name(name: str) -> bool:
    return bool(_BUCKET_NAME.fullmatch(name)) and ".." not in name
