/*
 * nbread PATH COUNT: open PATH with O_RDONLY|O_NONBLOCK, do ONE read(2) of
 * COUNT bytes, write what it got to stdout. Built static without libc so it
 * runs in the v9fs test guest (busybox has no O_NONBLOCK reader). This shows
 * that Linux v9fs sends a single Tread for an O_NONBLOCK open of a stream file.
 */
static long sys(long n, long a, long b, long c) {
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}
static char buf[65536];
void _start_c(long *sp) {
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	long n = 0;
	if (argc < 3) sys(60, 2, 0, 0);
	for (char *p = argv[2]; *p; p++) n = n * 10 + (*p - '0');
	if (n > (long)sizeof buf) n = sizeof buf;
	long fd = sys(2, (long)argv[1], 00 | 04000, 0); /* open O_RDONLY|O_NONBLOCK */
	if (fd < 0) sys(60, 3, 0, 0);
	long got = sys(0, fd, (long)buf, n);
	if (got < 0) sys(60, 4, 0, 0);
	sys(1, 1, (long)buf, got);
	sys(60, 0, 0, 0);
}
__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call _start_c\n");
