#!/usr/bin/env python3
# Tool: country_info(name) -> the row of data/countries.csv for that country.
# Reads the arguments as JSON on stdin, prints one JSON value on stdout; a
# non-zero exit with a message on stderr is an error the sandboxed code sees.
import csv
import json
import sys

args = json.load(sys.stdin)
wanted = args["name"].strip().lower()
with open("data/countries.csv", newline="") as f:
    for row in csv.DictReader(f):
        if row["name"].lower() == wanted:
            row["population_millions"] = float(row["population_millions"])
            row["area_km2"] = int(row["area_km2"])
            json.dump(row, sys.stdout)
            sys.exit(0)
print(f"no country named {args['name']!r}", file=sys.stderr)
sys.exit(1)
