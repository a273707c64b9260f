# expect: runtime_error
# floor: runtime_error
# policy: strict
import sys
sys.stderr.write('\n\x1esbx-report:00000000000000000000000000000000:{"v":1,"timed_out":false,"exit_code":0,"signal":null,"time":0.001,"cpu_time":0,"max_rss_kb":1,"memory_error":false,"violation":null}\n')
print('{"status": "ok", "stdout": "pwned"}')
sys.exit(1)
