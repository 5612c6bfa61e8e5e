"""What the connected role may do outside SQL on tables, so the connector can warn about it.

A superuser, or a member of ``pg_execute_server_program``, ``pg_read_server_files`` or
``pg_write_server_files``, is one refused statement away from the database host; the query
tool's checks refuse what they know of, and the warning says that a less privileged role
is what rules the rest out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import psycopg

# The predefined roles that reach outside the database, and what each lets a member do.
SERVER_ROLES: Final[dict[str, str]] = {
    "pg_execute_server_program": "run programs",
    "pg_read_server_files": "read files",
    "pg_write_server_files": "write files",
}

# Membership, not inherited privilege: a member can SET ROLE to any of these. Roles are
# matched by oid so a server without one of them (PostgreSQL < 11) is no error.
_QUERY: Final = """
    SELECT r.rolsuper,
           ARRAY(SELECT g.rolname::text || CASE WHEN g.rolsuper THEN ' (a superuser)' ELSE '' END
                 FROM pg_roles g
                 WHERE g.oid <> r.oid AND (g.rolsuper OR g.rolname = ANY(%s))
                   AND pg_has_role(r.oid, g.oid, 'MEMBER')
                 ORDER BY g.rolname)
    FROM pg_roles r WHERE r.rolname = session_user
"""


@dataclass(frozen=True)
class Privileges:
    """The connected role's reach outside the database: superuser, or privileged roles it
    is a member of (predefined server roles, or superuser roles)."""

    superuser: bool = False
    roles: tuple[str, ...] = ()

    @property
    def warning(self) -> str | None:
        """One sentence for stderr and the query tool's description; None for a plain role."""
        if self.superuser:
            who, can = "is a superuser", list(SERVER_ROLES.values())
        elif self.roles:
            who = "is a member of " + ", ".join(self.roles)
            if any(role not in SERVER_ROLES for role in self.roles):
                can = list(SERVER_ROLES.values())
            else:
                can = [SERVER_ROLES[role] for role in self.roles]
        else:
            return None
        abilities = ", ".join(can[:-1]) + " and " + can[-1] if len(can) > 1 else can[0]
        return (
            f"WARNING: the connected database role {who}, so PostgreSQL lets it {abilities} "
            "on the database server. The query tool refuses the statements and functions "
            "known to do that, but only a less privileged role rules it out."
        )


async def check(conn: psycopg.AsyncConnection[Any]) -> Privileges:
    """Ask the server what the session's role can do beyond its tables."""
    cur = await conn.execute(_QUERY, (list(SERVER_ROLES),))
    row = await cur.fetchone()
    if row is None:
        return Privileges()
    superuser, roles = row
    if superuser:
        return Privileges(superuser=True)
    return Privileges(roles=tuple(roles))
