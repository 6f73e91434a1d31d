"""The DuckDB warehouse: schema, atomic partition replace, adjusted-price views."""
