"""lifetimes' ``summary_data_from_transaction_data`` on a benchmark file, end to end (read CSV, summarise)."""

import sys

import pandas as pd
from lifetimes.utils import summary_data_from_transaction_data

df = pd.read_csv(sys.argv[1], dtype={"order_id": str, "customer_id": str}, parse_dates=["order_date"])
summary = summary_data_from_transaction_data(df, "customer_id", "order_date", monetary_value_col="amount")
print(len(summary))
