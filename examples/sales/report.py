# Reads /input/sales.csv (mounted read-only from examples/sales/data),
# summarizes it with the standard library only, and writes a Markdown report
# and a JSON summary to /output, which cact hands back to the host.
import csv
import json
import statistics
from collections import defaultdict
from datetime import date

rows = []
with open("/input/sales.csv", newline="") as f:
    for r in csv.DictReader(f):
        r["units"] = int(r["units"])
        r["revenue"] = r["units"] * float(r["unit_price"])
        r["month"] = date.fromisoformat(r["date"]).strftime("%Y-%m")
        rows.append(r)

by_region = defaultdict(float)
by_product = defaultdict(float)
by_month = defaultdict(float)
for r in rows:
    by_region[r["region"]] += r["revenue"]
    by_product[r["product"]] += r["revenue"]
    by_month[r["month"]] += r["revenue"]

total = sum(r["revenue"] for r in rows)
monthly = [by_month[m] for m in sorted(by_month)]
best_region = max(by_region, key=by_region.get)
best_product = max(by_product, key=by_product.get)

lines = [
    "# Sales report",
    "",
    f"{len(rows)} orders, total revenue **{total:,.2f}**.",
    f"Best region: **{best_region}**; best product: **{best_product}**.",
    f"Mean monthly revenue {statistics.mean(monthly):,.2f} "
    f"(standard deviation {statistics.stdev(monthly):,.2f}).",
    "",
    "| month | revenue |",
    "|---|---:|",
]
lines += [f"| {m} | {by_month[m]:,.2f} |" for m in sorted(by_month)]
lines += ["", "| region | revenue | share |", "|---|---:|---:|"]
lines += [
    f"| {k} | {v:,.2f} | {100 * v / total:.1f}% |"
    for k, v in sorted(by_region.items(), key=lambda kv: -kv[1])
]

with open("/output/report.md", "w") as f:
    f.write("\n".join(lines) + "\n")
with open("/output/summary.json", "w") as f:
    json.dump(
        {
            "orders": len(rows),
            "total_revenue": round(total, 2),
            "by_region": {k: round(v, 2) for k, v in sorted(by_region.items())},
            "by_product": {k: round(v, 2) for k, v in sorted(by_product.items())},
        },
        f,
        indent=2,
    )

print(f"{len(rows)} orders, revenue {total:,.2f}; best region {best_region}, "
      f"best product {best_product}")
