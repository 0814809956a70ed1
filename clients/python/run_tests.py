"""Runs the Python client's tests and the Python examples' tests in one pytest session.

    /usr/bin/python3 clients/python/run_tests.py [pytest options]

Needs `npm run build` first (the tests start the real `tollgate serve` from packages/server).
`npm test` runs this through clients/python/python.test.ts.
"""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

if __name__ == "__main__":
    sys.path[:0] = [str(HERE / "src"), str(HERE / "tests")]
    targets = [str(HERE / "tests"), *sorted(str(path) for path in (REPO / "examples").glob("python-*"))]
    sys.exit(pytest.main(["-c", str(HERE / "pyproject.toml"), "-p", "tollgate_fixtures", *targets, *sys.argv[1:]]))
