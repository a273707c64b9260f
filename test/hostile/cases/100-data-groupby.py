# expect: ok
# floor: ok
# policy: strict
# environment: python-data
# Ordinary use: a DataFrame from a dict, groupby, describe, a pivot. Catches an over-eager policy.
import pandas as pd
df = pd.DataFrame({"team": ["a", "b", "a", "c", "b", "c"], "score": [3, 5, 1, 4, 2, 6], "day": pd.date_range("2024-01-01", periods=6)})
print(df.groupby("team")["score"].agg(["sum", "mean"]))
print(df.describe().loc["mean", "score"])
print(df.pivot_table(index="team", values="score", aggfunc="max").to_string())
print(df.set_index("day").resample("2D")["score"].sum().tolist())
import io
print(pd.read_csv(io.StringIO("x,y\n1,2\n3,4\n")).sum().to_dict())
print(df.to_csv(index=False).splitlines()[0], df.to_json(orient="records")[:20])
