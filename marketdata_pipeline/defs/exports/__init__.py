"""The exports of the warehouse (Parquet, qlib) as assets, kept fresh after each day's runs."""
