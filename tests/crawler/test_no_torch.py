"""The crawler's image stays small: importing its tasks and CLI must not pull in torch."""

from __future__ import annotations

import subprocess
import sys


def test_crawler_imports_no_torch() -> None:
    code = (
        "import sys, memethresher_crawler.tasks, memethresher_crawler.cli, memethresher_crawler.reddit_crawl; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'open_clip')))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
