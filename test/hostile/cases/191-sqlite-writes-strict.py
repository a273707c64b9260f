# expect: security_violation
# floor: ok
# policy: strict
# never-on: wrote a file
# Strict refuses every write, judged on the open event; SQLite opens and writes its database in C
# (the sqlite3.connect event is not refused). Not a process or a socket: the floor (a writable /tmp)
# allows it, so only the policy layer can refuse it.
import sqlite3
db = sqlite3.connect('/tmp/strict.db')
db.execute('create table t (x)')
db.execute("insert into t values ('x')")
db.commit()
print('wrote a file in strict:', db.execute('select count(*) from t').fetchone())
