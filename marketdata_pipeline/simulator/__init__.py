"""A local BaoStock-compatible TCP server over a deterministic synthetic market."""
