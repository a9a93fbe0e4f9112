"""The sample website the demos upload, zipped as a user would before `aws s3 cp my-website.zip s3://…/`."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

SAMPLE_SITE = Path(__file__).resolve().parent / "site"


def zip_site(site: Path = SAMPLE_SITE) -> tuple[bytes, int]:
    """The site as a zip (fixed timestamps, so the same site gives the same bytes), and its file count."""
    files = sorted(path for path in site.rglob("*") if path.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(site).as_posix(), date_time=(2026, 1, 1, 0, 0, 0))
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue(), len(files)
