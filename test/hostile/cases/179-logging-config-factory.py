# expect: security_violation
# floor: security_violation
# policy: strict
# time_ms: 2000
# never: uid=
# logging.config resolves a '()' factory by dotted name (its importer is __import__, called from
# logging/config.py) and calls it with the config's keys: the program names no attribute and calls
# nothing itself.
import logging.config
import time
try:
    logging.config.dictConfig({
        'version': 1,
        'formatters': {'f': {'()': 'multiprocessing.util.spawnv_passfds', 'path': b'/usr/bin/id', 'args': ['id'], 'passfds': []}},
    })
except Exception as e:
    print('dictConfig said', type(e).__name__)
time.sleep(0.5)
print('after dictConfig')
