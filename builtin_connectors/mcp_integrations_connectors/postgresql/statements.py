"""Which statements the ``query`` tool runs: plain reads, as PostgreSQL's own parser sees them.

A READ ONLY transaction that is rolled back stops writes to tables, but not what a
privileged role can do beside them: run programs (``COPY ... TO PROGRAM``), read and write
server files, commit through ``dblink``, signal other backends, hold advisory locks past
the call, lift its own statement timeout, advance sequences. So every statement is parsed
with libpg_query (PostgreSQL's parser, through ``pglast``) and accepted only if it is one
plain read whose whole tree calls no function from :data:`DENIED_FUNCTIONS`, whether
written as f(x), schema.f(x), "F"(x) or in column notation, (x).f.

The text parsed must be the text the server runs: the caller sends it verbatim, with
``standard_conforming_strings`` on so that both lex string literals alike. The parser may
be newer than the server; a newer grammar only accepts more, and the server refuses what
it does not know.

Out of reach of a parse tree, and so not checked here: functions, views, operators, casts
and types that already exist in the database and call a denied function inside them (a
``SECURITY DEFINER`` function that runs ``COPY ... TO PROGRAM``, a view over
``pg_read_file``). The tool cannot create such objects; connecting with a role that holds
no server-file or program privileges is what covers them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from pglast import ast
from pglast.parser import ParseError, parse_sql


class NotAllowed(Exception):
    """Why the query tool refuses a statement, worded for the caller."""


@dataclass(frozen=True)
class FunctionGroup:
    """Functions refused together, and what they do that a rolled-back read cannot undo."""

    does: str
    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        return name in self.names or name.startswith(self.prefixes)


# Matched on the unqualified name, case-folded: pg_catalog.pg_read_file, "PG_READ_FILE" and
# pg_read_file are all the same entry; a user function that happens to share a name is
# refused too, which is the safe way to be wrong.
DENIED_FUNCTIONS: Final[tuple[FunctionGroup, ...]] = (
    # Files on the database server: the generic file access functions (superuser or
    # pg_read_server_files), adminpack's writers, and pg_walinspect's WAL readers.
    FunctionGroup(
        "reads, lists or writes files on the database server",
        frozenset(
            {
                "pg_stat_file",
                "pg_logdir_ls",
                "pg_get_wal_record_info",
                "pg_get_wal_records_info",
                "pg_get_wal_records_info_till_end_of_wal",
                "pg_get_wal_stats",
                "pg_get_wal_stats_till_end_of_wal",
                "pg_get_wal_block_info",
            }
        ),
        ("pg_read_", "pg_ls_", "pg_file_"),
    ),
    # Large objects: lo_import/lo_export read and write server files; the others create,
    # change or remove objects kept apart from table data. Listed by name, not "lo_*",
    # so that a column such as t.lo_id (see column notation below) is not mistaken.
    FunctionGroup(
        "works on large objects, whose import and export read and write server files",
        frozenset(
            {
                "lo_import",
                "lo_export",
                "lo_create",
                "lo_creat",
                "lo_open",
                "lo_close",
                "lo_unlink",
                "lo_put",
                "lo_get",
                "lo_from_bytea",
                "lo_truncate",
                "lo_truncate64",
                "lo_lseek",
                "lo_lseek64",
                "lo_tell",
                "lo_tell64",
                "loread",
                "lowrite",
                "lo_manage",
            }
        ),
    ),
    # dblink and postgres_fdw open connections of their own: what those run commits there,
    # whatever happens to this transaction.
    FunctionGroup(
        "opens another database connection, whose work commits on its own",
        prefixes=("dblink", "postgres_fdw_"),
    ),
    # Other server processes: signals, configuration reload, log rotation, promotion,
    # background workers.
    FunctionGroup(
        "signals or starts other server processes",
        frozenset(
            {
                "pg_terminate_backend",
                "pg_cancel_backend",
                "pg_reload_conf",
                "pg_rotate_logfile",
                "pg_rotate_logfile_old",
                "pg_log_backend_memory_contexts",
                "pg_promote",
                "autoprewarm_start_worker",
                "autoprewarm_dump_now",
            }
        ),
    ),
    # Session-level advisory locks survive the rollback and would be held between calls.
    FunctionGroup(
        "takes or releases advisory locks, which can outlive the transaction",
        prefixes=("pg_advisory_", "pg_try_advisory_"),
    ),
    # A setting changed here would last the transaction (lifting statement_timeout, say)
    # and, were the transaction ever committed, the session.
    FunctionGroup(
        "changes a setting, such as the statement timeout that bounds this call",
        frozenset({"set_config"}),
    ),
    # Sequences are not transactional: a rollback does not give a number back.
    FunctionGroup(
        "advances or sets a sequence, which no rollback undoes", frozenset({"nextval", "setval"})
    ),
    # Effects on transactions beyond this read: XID assignment, snapshots shared with other
    # sessions, notifications, OID allocation.
    FunctionGroup(
        "acts beyond this read-only transaction (transaction ids, shared snapshots, notifications)",
        frozenset(
            {"txid_current", "pg_current_xact_id", "pg_export_snapshot", "pg_notify", "pg_nextoid"}
        ),
    ),
    # WAL, replication, backup and recovery: server-wide and non-transactional.
    FunctionGroup(
        "writes WAL or changes replication, backup or recovery state",
        frozenset(
            {
                "pg_switch_wal",
                "pg_switch_xlog",
                "pg_create_restore_point",
                "pg_backup_start",
                "pg_backup_stop",
                "pg_start_backup",
                "pg_stop_backup",
                "pg_wal_replay_pause",
                "pg_wal_replay_resume",
                "pg_xlog_replay_pause",
                "pg_xlog_replay_resume",
                "pg_create_physical_replication_slot",
                "pg_create_logical_replication_slot",
                "pg_copy_physical_replication_slot",
                "pg_copy_logical_replication_slot",
                "pg_drop_replication_slot",
                "pg_sync_replication_slots",
            }
        ),
        ("pg_logical_", "pg_replication_"),
    ),
    # Statistics resets apply at once, whatever becomes of the transaction.
    FunctionGroup(
        "resets server statistics, which no rollback undoes",
        frozenset({"pg_stat_statements_reset"}),
        ("pg_stat_reset",),
    ),
    # SQL given as a string is parsed by the server only when the function runs, so this
    # check never sees it: query_to_xml('SELECT pg_read_file(...)', ...) would otherwise
    # walk straight past the list above. table_to_xml and friends are allowed: they build
    # a plain SELECT from a quoted relation name.
    FunctionGroup(
        "runs SQL given as text, which this check cannot see into",
        frozenset(
            {
                "query_to_xml",
                "query_to_xmlschema",
                "query_to_xml_and_xmlschema",
                "cursor_to_xml",
                "cursor_to_xmlschema",
                "ts_stat",
                "ts_rewrite",
                "connectby",
                "xpath_table",
            }
        ),
        ("crosstab",),
    ),
    # Writes straight to pages or catalogs, bypassing transactional visibility
    # (pg_surgery, pg_visibility, statistics import, binary-upgrade support).
    FunctionGroup(
        "changes data pages or catalogs directly",
        frozenset(
            {
                "heap_force_kill",
                "heap_force_freeze",
                "pg_truncate_visibility_map",
                "pg_import_system_collations",
                "pg_restore_relation_stats",
                "pg_restore_attribute_stats",
                "pg_clear_relation_stats",
                "pg_clear_attribute_stats",
            }
        ),
        ("binary_upgrade_",),
    ),
)

ALLOWED: Final = "SELECT, VALUES, TABLE, WITH ... SELECT, EXPLAIN without ANALYZE, and SHOW"

# Statement nodes whose SQL keyword is not their class name split into words.
_KEYWORDS: Final[dict[str, str]] = {
    "VariableSetStmt": "SET/RESET",
    "TransactionStmt": "transaction control (BEGIN, COMMIT, SAVEPOINT...)",
    "DeclareCursorStmt": "DECLARE",
    "ClosePortalStmt": "CLOSE",
    "FetchStmt": "FETCH/MOVE",
    "DoStmt": "DO",
    "VacuumStmt": "VACUUM/ANALYZE",
    "CheckPointStmt": "CHECKPOINT",
    "CreateStmt": "CREATE TABLE",
    "CreateTableAsStmt": "CREATE TABLE AS / CREATE MATERIALIZED VIEW",
    "IndexStmt": "CREATE INDEX",
    "ViewStmt": "CREATE VIEW",
    "RuleStmt": "CREATE RULE",
    "CreateFunctionStmt": "CREATE FUNCTION/PROCEDURE",
    "CreateTrigStmt": "CREATE TRIGGER",
    "CreateSeqStmt": "CREATE SEQUENCE",
    "AlterTableStmt": "ALTER TABLE",
    "RenameStmt": "ALTER ... RENAME",
    "DropStmt": "DROP",
    "GrantStmt": "GRANT/REVOKE",
}


def keyword(node: ast.Node) -> str:
    """The SQL that a statement node stands for, for messages: ``CopyStmt`` -> ``COPY``."""
    name = type(node).__name__
    if name in _KEYWORDS:
        return _KEYWORDS[name]
    words = re.findall(r"[A-Z][a-z]*", name.removesuffix("Stmt"))
    return " ".join(words).upper() or name


def denied(name: str) -> FunctionGroup | None:
    """The deny-list group a function name (any case, unqualified) falls in, if any."""
    folded = name.lower()
    return next((group for group in DENIED_FUNCTIONS if group.matches(folded)), None)


def _children(node: ast.Node) -> Iterator[ast.Node]:
    """Every node below ``node``, depth first: members, lists, and lists of lists."""
    pending: list[Any] = [getattr(node, member) for member in node]
    while pending:
        value = pending.pop()
        if isinstance(value, ast.Node):
            yield value
            pending.extend(getattr(value, member) for member in value)
        elif isinstance(value, tuple):
            pending.extend(value)


def _names(values: tuple[Any, ...] | None) -> list[str]:
    return [v.sval for v in values or () if isinstance(v, ast.String) and v.sval]


def _check_function(name: str, *, notation: str) -> None:
    group = denied(name)
    if group is not None:
        raise NotAllowed(
            f"it calls {name}(){notation}, a function that {group.does}; the query tool "
            "refuses functions that act outside its read-only transaction"
        )


def _check_node(node: ast.Node) -> None:
    """Refuse a node inside an accepted statement that writes, locks or escapes."""
    if isinstance(node, ast.FuncCall):
        names = _names(node.funcname)
        if names:
            _check_function(names[-1], notation="")
    elif isinstance(node, ast.A_Indirection):
        # (expr).name is also a call of name(expr) when expr is no composite with a
        # column of that name: ('/etc/passwd'::text).pg_read_file reads the file.
        for name in _names(node.indirection):
            _check_function(name, notation=f" through column notation (x).{name}")
    elif isinstance(node, ast.ColumnRef):
        # a.f is f(a) when a is a row; in a.b.f, b names a column or a table, never a call.
        names = _names(node.fields)
        for name in names[1:] if len(names) == 2 else names[2:]:
            _check_function(name, notation=f" through column notation x.{name}")
    elif isinstance(node, ast.SelectStmt):
        if node.intoClause is not None:
            raise NotAllowed("SELECT INTO creates a table; use the execute tool to change data")
        if node.lockingClause:
            raise NotAllowed("FOR UPDATE / FOR SHARE locks rows; reads here take no row locks")
    elif type(node).__name__.endswith("Stmt"):
        raise NotAllowed(
            f"it contains a data-modifying {keyword(node)} (in WITH or a subquery); "
            "use the execute tool to change data"
        )


def _explained(statement: ast.ExplainStmt) -> ast.Node:
    """The statement an EXPLAIN explains, if it may be explained here."""
    for option in statement.options or ():
        if isinstance(option, ast.DefElem) and (option.defname or "").lower() == "analyze":
            arg = option.arg
            off = (
                isinstance(arg, ast.String) and (arg.sval or "").lower() in ("false", "off")
            ) or (isinstance(arg, ast.Integer) and arg.ival == 0)
            if not off:
                raise NotAllowed(
                    "EXPLAIN ANALYZE runs the statement it explains; use EXPLAIN without ANALYZE"
                )
    inner = statement.query
    if not isinstance(inner, ast.SelectStmt):
        what = keyword(inner) if isinstance(inner, ast.Node) else "this"
        raise NotAllowed(f"EXPLAIN here explains only reads, not {what}")
    return inner


def check_read_only(sql: str) -> None:
    """Raise :class:`NotAllowed` unless ``sql`` is one plain read the query tool may run.

    Plain reads are SELECT, VALUES, TABLE and WITH whose every part reads (no data-modifying
    WITH, no SELECT INTO, no FOR UPDATE/SHARE), EXPLAIN of such a read without ANALYZE,
    and SHOW; anywhere in them, no call of a function in :data:`DENIED_FUNCTIONS`.
    """
    try:
        parsed = parse_sql(sql)
    except ParseError as exc:
        raise NotAllowed(f"PostgreSQL's parser rejects it: {exc}") from None
    if not parsed:
        raise NotAllowed("it holds no statement; send one SQL statement")
    if len(parsed) > 1:
        raise NotAllowed(f"it holds {len(parsed)} statements; send one per call")
    statement = parsed[0].stmt
    if isinstance(statement, ast.ExplainStmt):
        statement = _explained(statement)
    if isinstance(statement, ast.VariableShowStmt):
        return
    if not isinstance(statement, ast.SelectStmt):
        kind = keyword(statement) if isinstance(statement, ast.Node) else "this statement"
        raise NotAllowed(
            f"{kind} is not a plain read; the query tool runs only {ALLOWED} "
            "(use the execute tool to change data)"
        )
    _check_node(statement)
    for node in _children(statement):
        _check_node(node)
