"""Install DuckDB's extensions for the BigQuery emulator image from their PyPI wheels.

bqemulator loads `spatial` and `avro` when it starts; DuckDB would download them from
extensions.duckdb.org on first use. Run at build time (Dockerfile, stage
`bigquery-emulator`) as the emulator's user, so they land in its ~/.duckdb and the
container never downloads anything.

    python deploy/bqemulator_extensions.py spatial avro
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import duckdb


def extension_file(name: str) -> Path:
    package = Path(importlib.import_module(f"duckdb_extension_{name}").__file__).parent
    found = sorted(package.glob(f"**/v{duckdb.__version__}/**/{name}.duckdb_extension"))
    found += sorted(package.glob(f"**/v{duckdb.__version__}/{name}.duckdb_extension"))
    if not found:
        raise SystemExit(f"no {name}.duckdb_extension for DuckDB {duckdb.__version__} in {package}")
    return found[0]


def main(names: list[str]) -> None:
    connection = duckdb.connect()
    for name in names:
        connection.execute(f"INSTALL '{extension_file(name)}'")
        connection.execute(f"LOAD {name}")
        print(f"DuckDB {duckdb.__version__}: {name} installed")


if __name__ == "__main__":
    main(sys.argv[1:])
