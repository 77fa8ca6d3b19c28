"""PyMC-Marketing's ``rfm_segments`` on a benchmark file, end to end (read CSV, segment)."""

import sys

import pandas as pd
from pymc_marketing.clv import rfm_segments

df = pd.read_csv(sys.argv[1], dtype={"order_id": str, "customer_id": str}, parse_dates=["order_date"])
segments = rfm_segments(df, "customer_id", "order_date", "amount")
print(len(segments))
