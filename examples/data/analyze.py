# What a model might write: read a CSV with pandas, summarise it per group,
# and draw a chart. plt.show() saves each open figure to /output as PNG.
import matplotlib.pyplot as plt
import pandas as pd

df = pd.read_csv("/input/weather.csv")
summary = df.groupby("city").agg(mean_temp_c=("temp_c", "mean"), rain_mm=("rain_mm", "sum"))
summary = summary.sort_values("mean_temp_c")
print(summary.round(1).to_string())

summary.to_csv("/output/summary.csv")

fig, ax = plt.subplots(figsize=(6, 3))
for city, rows in df.groupby("city"):
    ax.plot(rows["month"], rows["temp_c"], marker="o", label=city)
ax.set_ylabel("°C")
ax.set_title("Mean temperature by month")
ax.legend()
plt.show()
