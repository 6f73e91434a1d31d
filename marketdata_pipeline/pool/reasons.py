"""Why a session leaves the pool: reasons as constants, so logs are easy to grep (HikariCP style)."""

from __future__ import annotations

DEAD = "(connection is dead)"
"""The check on checkout raised."""

BROKEN = "(connection is broken)"
"""The borrower raised an error that the `is_broken` classifier calls fatal."""

MAX_LIFETIME = "(passed max_lifetime)"
"""Older than its (jittered) maximum lifetime."""

MAX_IDLE = "(passed max_idle)"
"""Unused for longer than `max_idle`."""

RENEW_FAILED = "(renew failed)"
"""Past its lifetime, and renewing it in place raised."""

SHRUNK = "(pool shrunk)"
"""Surplus after `resize()` or after the server capped the pool's size."""

EVICTED = "(evicted)"
"""Evicted on request (`SessionPool.evict`), e.g. to fail back to a preferred endpoint."""

REFUSED = "(server refused the pool)"
"""The pool is refusing (see `SessionPool.refuse`): its sessions are closed, not reused."""

POOL_CLOSED = "(pool is closed)"
"""Closed because the pool closed."""

FORCE_CLOSED = "(force-closed at pool close)"
"""Still checked out when `close()` ran out of time."""

EVICTION_KINDS = {MAX_LIFETIME: "ttl", MAX_IDLE: "idle"}
"""Reasons counted as evictions (by kind in `stats()["evictions"]`) rather than discards."""
