# expect: ok
# floor: ok
# policy: strict
# A harmless program: looking up a user and a group. glibc first asks nscd, through
# socket(AF_UNIX) and connect to /var/run/nscd/socket (ENOENT here), then reads /etc/passwd. A
# filter that kills on every socket() would make this a security_violation.
import grp
import pwd
print(pwd.getpwuid(0).pw_name, grp.getgrgid(0).gr_name)
