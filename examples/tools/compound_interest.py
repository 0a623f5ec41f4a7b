#!/usr/bin/env python3
# Tool: compound_interest(principal, rate_percent, years, per_year=1)
# -> {"amount": ..., "interest": ...}, rounded to cents.
import json
import sys

a = json.load(sys.stdin)
n = a.get("per_year", 1)
amount = a["principal"] * (1 + a["rate_percent"] / 100 / n) ** (n * a["years"])
json.dump({"amount": round(amount, 2), "interest": round(amount - a["principal"], 2)}, sys.stdout)
