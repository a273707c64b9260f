/**
 * Programs that reach the sandbox's cgroup limit rather than the harness's RLIMIT_AS (which turns an
 * ordinary allocation past the limit into a MemoryError): file pages written into memfds are no
 * mapping of the program's, so only the cgroup bounds them and the kernel ends the whole sandbox.
 * RLIMIT_FSIZE caps each file at the tmpfs size: it takes many files of 8 MB each.
 */
export const FILLS_THE_CGROUP = [
  'import os',
  'chunk = b"x" * 2**20',
  'while True:',
  '    fd = os.memfd_create("fill")',
  '    for _ in range(8): os.write(fd, chunk)',
].join('\n');
