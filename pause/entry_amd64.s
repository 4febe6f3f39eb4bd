//go:build !purego

// The pause program without the Go runtime, for linux/amd64. The linker
// starts the program here (-ldflags=-E=github.com/podbox/podbox/pause.asmentry),
// so no Go code ever runs: no scheduler, no extra threads, no heap. The same
// behaviour in Go is Run in pause.go; read that first.
//
// Everything here is raw system calls. The handlers return through the
// restorer (rt_sigreturn), which restores every register, so they may
// clobber any of them.

#include "textflag.h"

#define SYS_writev		20
#define SYS_rt_sigaction	13
#define SYS_rt_sigprocmask	14
#define SYS_rt_sigreturn	15
#define SYS_pause		34
#define SYS_wait4		61
#define SYS_exit_group		231

#define SIGHUP		1
#define SIGINT		2
#define SIGUSR1		10
#define SIGTERM		15
#define SIGCHLD		17

#define SIG_SETMASK	2
#define SIG_IGN		1
#define SA_NOCLDSTOP	0x1
#define SA_RESTORER	0x04000000
#define WNOHANG		0x1
#define __WALL		0x40000000

// struct kernel_sigaction { handler, flags, restorer, mask uint64 }.
GLOBL sa<>(SB), NOPTR, $32

// An empty signal set, for rt_sigprocmask.
GLOBL noset<>(SB), NOPTR, $8

// The iovecs of "pause <Version>\n".
GLOBL iov<>(SB), NOPTR, $48

// "pause " at 0, "\n" at 6.
DATA text<>+0(SB)/6, $"pause "
DATA text<>+6(SB)/1, $"\n"
GLOBL text<>(SB), RODATA|NOPTR, $8

// rt_sigaction(sig, {handler, flags, sigreturn, 0}, NULL, 8); exit 1 on error.
// Clobbers AX, DI, SI, DX, R10, CX, R11.
#define SIGACTION(sig, handler, flags) \
	LEAQ	handler, AX; \
	MOVQ	AX, sa<>+0(SB); \
	MOVQ	$(flags), sa<>+8(SB); \
	LEAQ	·sigreturn(SB), AX; \
	MOVQ	AX, sa<>+16(SB); \
	MOVQ	$sig, DI; \
	LEAQ	sa<>(SB), SI; \
	XORL	DX, DX; \
	MOVL	$8, R10; \
	MOVL	$SYS_rt_sigaction, AX; \
	SYSCALL; \
	CMPQ	AX, $0; \
	JNE	fail

// rt_sigaction(sig, {SIG_IGN}, NULL, 8); exit 1 on error.
#define SIGIGNORE(sig) \
	MOVQ	$SIG_IGN, sa<>+0(SB); \
	MOVQ	$0, sa<>+8(SB); \
	MOVQ	$0, sa<>+16(SB); \
	MOVQ	$sig, DI; \
	LEAQ	sa<>(SB), SI; \
	XORL	DX, DX; \
	MOVL	$8, R10; \
	MOVL	$SYS_rt_sigaction, AX; \
	SYSCALL; \
	CMPQ	AX, $0; \
	JNE	fail

// The kernel's initial stack: argc at 0(SP), argv[0] at 8(SP), argv[1] at
// 16(SP), then NULL, envp, NULL, auxv.
TEXT ·asmentry(SB), NOSPLIT|NOFRAME, $0
	// "-v" as argv[1] (exactly): print the version.
	MOVQ	0(SP), AX
	CMPQ	AX, $2
	JLT	serve
	MOVQ	16(SP), SI
	CMPB	0(SI), $'-'
	JNE	serve
	CMPB	1(SI), $'v'
	JNE	serve
	CMPB	2(SI), $0
	JEQ	version

serve:
	// Unblock every signal: a blocked mask survives execve, and a blocked
	// SIGTERM would make the pause unstoppable but by SIGKILL.
	MOVQ	$SIG_SETMASK, DI
	LEAQ	noset<>(SB), SI
	XORL	DX, DX
	MOVL	$8, R10
	MOVL	$SYS_rt_sigprocmask, AX
	SYSCALL
	CMPQ	AX, $0
	JNE	fail

	SIGACTION(SIGINT, ·onterm(SB), SA_RESTORER)
	SIGACTION(SIGTERM, ·onterm(SB), SA_RESTORER)
	SIGACTION(SIGCHLD, ·onchld(SB), SA_RESTORER|SA_NOCLDSTOP)
	// Children that exited before the handler was in place.
	CALL	·onchld(SB)
	// Last, so that SigIgn in /proc/<pid>/status says the handlers are set.
	SIGIGNORE(SIGHUP)
	SIGIGNORE(SIGUSR1)

wait:
	// pause() returns only after a handler ran (with EINTR).
	MOVL	$SYS_pause, AX
	SYSCALL
	JMP	wait

version:
	// writev(1, {"pause ", Version, "\n"}, 3)
	LEAQ	text<>+0(SB), AX
	MOVQ	AX, iov<>+0(SB)
	MOVQ	$6, iov<>+8(SB)
	MOVQ	·Version+0(SB), AX
	MOVQ	AX, iov<>+16(SB)
	MOVQ	·Version+8(SB), AX
	MOVQ	AX, iov<>+24(SB)
	LEAQ	text<>+6(SB), AX
	MOVQ	AX, iov<>+32(SB)
	MOVQ	$1, iov<>+40(SB)
	MOVL	$1, DI
	LEAQ	iov<>(SB), SI
	MOVL	$3, DX
	MOVL	$SYS_writev, AX
	SYSCALL
	CMPQ	AX, $0
	JLT	fail
	MOVL	$0, DI
	MOVL	$SYS_exit_group, AX
	SYSCALL

fail:
	MOVL	$1, DI
	MOVL	$SYS_exit_group, AX
	SYSCALL
	JMP	fail

// SIGINT, SIGTERM: exit 0.
TEXT ·onterm(SB), NOSPLIT|NOFRAME, $0
	MOVL	$0, DI
	MOVL	$SYS_exit_group, AX
	SYSCALL
	INT	$3

// SIGCHLD: wait4(-1, NULL, WNOHANG|__WALL, NULL) until it returns 0 (children
// left, none exited) or an error (-ECHILD: no children).
TEXT ·onchld(SB), NOSPLIT|NOFRAME, $0
again:
	MOVQ	$-1, DI
	XORL	SI, SI
	MOVL	$(WNOHANG|__WALL), DX
	XORL	R10, R10
	MOVL	$SYS_wait4, AX
	SYSCALL
	CMPQ	AX, $0
	JGT	again
	RET

// The restorer that a handler returns to.
TEXT ·sigreturn(SB), NOSPLIT|NOFRAME, $0
	MOVL	$SYS_rt_sigreturn, AX
	SYSCALL
	INT	$3
