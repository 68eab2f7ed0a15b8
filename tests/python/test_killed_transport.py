"""A Python host's process SIGKILLed inside its own transport callback (tests/conformance/
test_killed_transport.c drives the C API the same way): on the file store and on a storage
written in Python over the sqlite3 module (a host's own database), a child process runs a
message and kills itself at its kth envelope, after the provider accepted it. The provider keeps
its own ledger outside the process: a line per call before it answers, a line per key the first
time it accepts it. The parent opens the store again and checks, before anything runs, that
every key handed over has its attempt stored and is either accepted (the provider holds it) or
in doubt (not final); then it runs the message to its end: every send accepted, each key held
once by the provider and nothing else held, every send in doubt asked again under its key, no
send stored final handed over again, and one `sent` touch per accepted send."""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import unittest

import engage
from email_world import email_world

T0 = 1767225600000
N = 24
BATCH = 4
SEND_AT = T0 + 2 * engage.DAY


class SqliteStorage(engage.Storage):
    """A host's storage in Python over sqlite3: one table, batches as transactions (WAL, so a
    killed process loses only its open batch)."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")

    def get(self, key):
        row = self.db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def put(self, key, value):
        self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))

    def delete(self, key):
        self.db.execute("DELETE FROM kv WHERE k = ?", (key,))

    def scan(self, prefix):
        rows = self.db.execute("SELECT k, v FROM kv WHERE k >= ? ORDER BY k", (prefix,))
        for k, v in rows.fetchall():
            if not bytes(k).startswith(prefix):
                break
            yield bytes(k), bytes(v)

    def begin(self):
        self.db.execute("BEGIN")

    def commit(self):
        self.db.execute("COMMIT")

    def rollback(self):
        self.db.execute("ROLLBACK")

    def close(self):
        self.db.close()


class Provider(engage.Transport):
    """De-duplicates by key; its ledger in two files (calls, accepted keys), written before it answers."""
    batch_size = BATCH

    def __init__(self, logdir, kill_at=0):
        self.calls = open(os.path.join(logdir, "calls.log"), "a", buffering=1)
        self.accepted = open(os.path.join(logdir, "accepted.log"), "a", buffering=1)
        self.held = set(read(os.path.join(logdir, "accepted.log")))
        self.kill_at, self.envelopes = kill_at, 0

    def send_batch(self, envelopes):
        for env in envelopes:
            self.envelopes += 1
            self.calls.write(env.key + "\n")
            if env.key not in self.held:
                self.held.add(env.key)
                self.accepted.write(env.key + "\n")
            if self.envelopes == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # accepted; this and the rest of the batch unanswered
        return ["accepted"] * len(envelopes)

    def close(self):
        self.calls.close()
        self.accepted.close()


def read(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n") for line in f if line.endswith("\n")]


def open_engine(backend, d, provider):
    clock = lambda: SEND_AT  # noqa: E731
    if backend == "file":
        return engage.Engine(os.path.join(d, "store.db"), transport=provider, clock=clock, nosync=True)
    return engage.Engine(storage=SqliteStorage(os.path.join(d, "store.sqlite")), transport=provider, clock=clock)


def world(backend, d):
    prov = Provider(d)
    with open_engine(backend, d, prov) as eng:
        email_world(eng, N)
        cid = eng.create_campaign("admin", "C", T0 + engage.DAY, T0 + 20 * engage.DAY, control_percent=0)
        mid = eng.create_message("admin", cid, "m", include=["all"], send_at=SEND_AT,
                                 creatives=[{"channel": "email", "subject": "Hi", "body": "<a>{{unsubscribe}}</a>"}])
        eng.submit("admin", mid)
        eng.approve("admin", mid)
    prov.close()
    return cid, mid


def run_to_end(eng, mid):
    for _ in range(20):
        eng.run_due("admin")
        if eng.execution("admin", mid)["state"] == "finished":
            return
    raise AssertionError("the execution did not finish")


def ledger(eng, mid):
    out = {}
    for c in range(N):
        try:
            out[c] = eng.send("admin", mid, c, "email")
        except engage.NotFound:
            pass
    return out


FINAL = ("accepted", "rejected", "expired", "skipped")


class KilledInTransport(unittest.TestCase):
    def kill_loop(self, backend):
        base = tempfile.mkdtemp(prefix="engage-pykill-")
        try:
            wd = os.path.join(base, "world")
            os.mkdir(wd)
            cid, mid = world(backend, wd)
            kills = resent = kept = 0
            for k in range(1, N + 1, 3):
                d = os.path.join(base, f"k{k}")
                shutil.copytree(wd, d)
                for f in ("calls.log", "accepted.log"):
                    if os.path.exists(os.path.join(d, f)):
                        os.remove(os.path.join(d, f))
                child = subprocess.run([sys.executable, __file__, "child", backend, d, str(mid), str(k)],
                                       capture_output=True, text=True)
                self.assertEqual(child.returncode, -signal.SIGKILL, child.stderr)
                kills += 1
                calls = read(os.path.join(d, "calls.log"))
                held = read(os.path.join(d, "accepted.log"))
                self.assertEqual(len(held), len(set(held)))
                prov = Provider(d)
                with open_engine(backend, d, prov) as eng:
                    before = ledger(eng, mid)
                    for c, s in before.items():
                        n = calls.count(s["key"])
                        self.assertLessEqual(n, s["attempts"])  # the intent stored before the call
                        if s["state"] == "accepted":
                            self.assertIn(s["key"], held)
                        if n:
                            self.assertTrue(s["state"] == "accepted" or s["state"] not in FINAL, s)
                    run_to_end(eng, mid)
                    after = ledger(eng, mid)
                    calls_after = read(os.path.join(d, "calls.log"))
                    held = read(os.path.join(d, "accepted.log"))
                    self.assertEqual(sorted(held), sorted(s["key"] for s in after.values()))  # nothing else held
                    self.assertEqual(len(held), len(set(held)))  # each key once
                    for c, s in after.items():
                        self.assertEqual(s["state"], "accepted")
                        b = before.get(c)
                        if b is None:
                            continue
                        self.assertEqual(b["key"], s["key"])
                        n0, n1 = calls.count(s["key"]), calls_after.count(s["key"])
                        if b["state"] in FINAL:
                            self.assertEqual(n1, n0)  # never handed over again
                            kept += 1
                        elif n0:
                            self.assertGreater(n1, n0)  # in doubt: asked again, under its key
                            resent += 1
                    x = eng.execution("admin", mid)
                    self.assertEqual((x["state"], x["accepted"], x["sends"]), ("finished", len(after), len(after)))
                    touched = sum(sum(row.values()) for row in eng.touch_counts("acme", cid, mid).values())
                    self.assertEqual(touched, len(after))  # a `sent` touch per accepted send
                prov.close()
            self.assertGreater(resent, 0)
            self.assertGreater(kept, 0)
            print(f"\n{backend}: {kills} kills in the Python transport callback, {resent} sends in doubt sent again "
                  f"under their key, {kept} final at the kill never handed over again", file=sys.stderr)
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def test_file_store(self):
        self.kill_loop("file")

    def test_python_sqlite_storage(self):
        self.kill_loop("pysqlite")


def child(backend, d, mid, kill_at):
    with open_engine(backend, d, Provider(d, kill_at)) as eng:
        run_to_end(eng, mid)
    sys.exit(3)  # not reached: killed in the transport


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "child":
    child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
