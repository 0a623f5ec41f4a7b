# Calls the host's tools from sandboxed code: one program instead of one
# model turn per tool call.
import csv

with open("/input/countries.csv") as f:
    names = [row["name"] for row in csv.DictReader(f)]

facts = [call_tool("country_info", name=n) for n in names]
densest = max(facts, key=lambda c: c["population_millions"] * 1e6 / c["area_km2"])
print(f"{len(facts)} countries; densest: {densest['name']} "
      f"({densest['population_millions'] * 1e6 / densest['area_km2']:.0f} people/km2)")

growth = call_tool("compound_interest", principal=1000, rate_percent=5, years=10, per_year=12)
print(f"1000 at 5% for 10 years, monthly: {growth['amount']}")

try:
    call_tool("country_info", name="Atlantis")
except RuntimeError as e:
    print("as expected:", e)

try:
    sent = call_tool("send_report", to="team@example.com", subject="Densest country",
                     body=f"It is {densest['name']}.")
    print("report", sent)
except PermissionError as e:
    print("not sent:", e)
