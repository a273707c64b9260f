# expect: security_violation
# floor: security_violation timeout
# policy: strict
# environment: python-data
# time_ms: 2000
# Rebuilding the font cache runs fc-list (refused: process creation) and would write the cache file
# (refused in strict too). The floor: fc-list's process creation is refused by seccomp, before the
# read-only config dir would refuse the cache's lock file.
# (A loaded machine can spend the 2 s scanning fonts before that refusal: timeout is as honest.)
import matplotlib.font_manager as fm
fm._load_fontmanager(try_read_cache=False)
print('rebuilt')
