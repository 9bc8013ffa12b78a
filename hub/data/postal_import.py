"""Turn a GeoNames postal-code dump into rows for ``postal_codes.csv``.

    python -m hub.data.postal_import FR.txt --prefix 2 >> hub/data/postal_codes.csv

GeoNames (https://download.geonames.org/export/zip/, CC BY 4.0) publishes one
tab-separated file per country. ``--prefix N`` keeps one row per N-character prefix
(at the mean position of its codes); ``--prefix 0`` keeps one row per GB outward code;
without it every code becomes a row. The output has no header, ready to append.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.domain.geo import PostalTableError, format_postal_csv, places_from_geonames


def main(argv: list[str] | None = None) -> int:
    """Convert the file named on the command line and print the rows to stdout."""
    parser = argparse.ArgumentParser(prog="python -m hub.data.postal_import", description=__doc__)
    parser.add_argument("geonames_file", type=Path, help="a GeoNames postal-code .txt file")
    parser.add_argument("--prefix", type=int, default=None, help="group codes by this many chars")
    args = parser.parse_args(argv)
    try:
        text = args.geonames_file.read_text(encoding="utf-8")
        places = places_from_geonames(text, prefix_len=args.prefix)
    except (OSError, PostalTableError) as err:
        print(f"error: {err}", file=sys.stderr)  # noqa: T201
        return 1
    rows = format_postal_csv(places).splitlines(keepends=True)[1:]
    sys.stdout.write("".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
