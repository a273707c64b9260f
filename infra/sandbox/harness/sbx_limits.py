"""A child's limits: CPU time and memory, set on itself once its job arrives."""

import math
import resource

# Room above the memory limit for what the interpreter itself grows by while running the program
# (its heap, the modules the program imports): small enough that 150 MB under 128 MB is refused.
ADDRESS_SPACE_SLACK_MB = 4

# Threads' stacks count against the address space: glibc's default (RLIMIT_STACK, 8 MB) would make
# each thread the program starts cost 8 MB of its limit. 1 MB still holds the default recursion
# limit, through C calls too.
THREAD_STACK_BYTES = 1024 * 1024


def cpu_limit_seconds(time_ms):
    """RLIMIT_CPU for a run: a backstop behind the supervisor's wall clock, for spinning threads
    that outlive a kill. It counts every thread, and gVisor's ptrace platform counts a runnable
    thread's waiting time too, so a few spinning threads can reach it before the wall clock."""
    return time_ms // 1000 + 2


def memory_in_use():
    """(VmSize, VmRSS) of this process in bytes: the supervisor's and every library it preloaded,
    which the program did not allocate and is not charged for."""
    found = {}
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith((b"VmSize:", b"VmRSS:")):
                key, value = line.split()[:2]
                found[key] = int(value) * 1024
    return found.get(b"VmSize:", 0), found.get(b"VmRSS:", 0)


def cpu_used():
    """CPU seconds this process has been charged so far, its threads together."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def set_limits(time_ms, memory_mb):
    """Returns (resident bytes, CPU seconds) the process had before the program: its peak RSS counts
    what was preloaded (python-data: about 130 MB), its CPU time what it was charged while it waited
    for its job, and the program is charged only for the rest of each."""
    # RLIMIT_CPU counts from the fork, not from the job: under gVisor a waiting python-data child is
    # charged CPU while it sits blocked in read (measured: 1.5 s after 60 s idle, 3.6 s after 120 s),
    # so an absolute limit killed a warm sandbox's program at once and called it a timeout. The
    # allowance starts from what was already charged. Soft = hard so user code cannot raise them.
    cpu_before = cpu_used()
    cpu = math.ceil(cpu_before) + cpu_limit_seconds(time_ms)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    # The memory limit is enforced here, on what the program maps on top of what was already
    # mapped: an allocation past it fails (MemoryError, or ENOMEM from mmap), which the child reports
    # as the program's own refused allocation. The cgroup, set above this (container-spec.ts), stays
    # the floor for memory no mapping accounts for (pipes, file pages); its OOM kills are read from
    # the cgroup by the worker. MALLOC_ARENA_MAX keeps threads from reserving arenas they would then
    # be charged for.
    import _thread

    _thread.stack_size(THREAD_STACK_BYTES)
    mapped, resident = memory_in_use()
    address_space = mapped + (memory_mb + ADDRESS_SPACE_SLACK_MB) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    return resident, cpu_before
