"""The BaoStock wire protocol: frames, sessions, typed queries and errors."""
