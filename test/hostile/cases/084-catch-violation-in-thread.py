# expect: security_violation
# floor: security_violation
# policy: standard
# never-on: carried on
import threading, socket

def t():
    try:
        socket.socket()
    except BaseException:
        pass

th = threading.Thread(target=t)
th.start()
th.join()
print('carried on')
