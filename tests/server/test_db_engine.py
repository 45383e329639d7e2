"""The SQLite engine keeps savepoints inside the caller's transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from pictograph.server.db.engine import Database


def test_a_savepoint_first_in_a_transaction_rolls_back_with_it(tmp_path: Path) -> None:
    """pysqlite starts transactions lazily; without the engine's BEGIN, releasing a savepoint
    issued first would commit its rows on their own (an image row without its job record)."""
    db = Database(f"sqlite:///{tmp_path / 'savepoint.db'}")
    with db.session() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    with pytest.raises(RuntimeError), db.session() as session:
        with session.begin_nested():
            session.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("the rest of the unit of work failed")
    with db.session() as session:
        with session.begin_nested():
            session.execute(text("INSERT INTO t VALUES (2)"))
    with db.session() as session:
        assert session.execute(text("SELECT x FROM t")).scalars().all() == [2]
    db.dispose()
