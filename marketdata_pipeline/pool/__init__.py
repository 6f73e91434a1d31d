"""A generic, thread-safe pool of sessions (knows nothing of BaoStock)."""
