"""Benchmarks. `make bench` = `.venv/bin/python -m bench`.

    .venv/bin/python -m bench [options]        the site's load, soak and fault figures
                                               (bench.load; options as `python -m bench.load -h`)
    .venv/bin/python -m bench sync backup ...  only the named area benchmarks, one after the other
    .venv/bin/python -m bench all              every benchmark: each bench/<name>/ with a __main__.py

Each area benchmark (bench/<name>/__main__.py) also runs on its own:
`.venv/bin/python -m bench.<name>`. See bench/README.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    available = sorted(p.parent.name for p in HERE.glob("*/__main__.py"))
    if not argv or argv[0].startswith("-"):
        # The whole-site figures (issue 10); options go to bench.load.
        child = subprocess.Popen([sys.executable, "-m", "bench.load", *argv], cwd=HERE.parent)
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue  # the child got the Ctrl-C too: let it stop its processes and exit
    chosen = available if argv == ["all"] else argv
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)} (or 'all')")
        return 2
    failed = []
    for name in chosen:
        print(f"\n=== bench.{name} ===", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
