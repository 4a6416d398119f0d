// socket_pingpong: Go twin of mt_socket_pingpong, GOMAXPROCS=1. A non-blocking
// AF_UNIX SOCK_STREAM socketpair from syscall.Socketpair; each end wrapped
// with os.NewFile + net.FileConn so reads and writes go through Go's
// netpoller. One round trip: main writes a 1-byte message, an echo goroutine
// reads it and writes it back, main reads it. N round trips (argv[1],
// default 80,000) after N/10 warm-up ones.
// Prints socket_roundtrip_ns = elapsed / N.
//
// System calls: Go's reads try first and park on EAGAIN, so each direction
// makes 2 reads (one of them EAGAIN), 1 write and 1 epoll_pwait: 8 per round
// trip against the libev floor's 6 (a wait, then one read). Go offers no
// wait-first read on its netpoller: a syscall.RawConn Read callback that
// declines before reading loses wake-ups, because RawRead resets the fd's
// readiness before the first call (a readiness that came in between is lost).
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

const msgSize = 1 // message size, the same in every twin

func conn(fd int, name string) net.Conn {
	f := os.NewFile(uintptr(fd), name)
	c, err := net.FileConn(f) // dups fd into the netpoller
	if err != nil {
		panic(err)
	}
	f.Close()
	return c
}

func roundtrip(c net.Conn, n int) float64 {
	buf := make([]byte, msgSize)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := c.Write(buf); err != nil {
			panic(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			panic(err)
		}
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func main() {
	runtime.GOMAXPROCS(1)
	n := 80000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			n = v
		}
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX,
		syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		panic(err)
	}
	a, b := conn(fds[0], "a"), conn(fds[1], "b")
	go func() { // echo party: runs until a is closed (EOF)
		buf := make([]byte, msgSize)
		for {
			if _, err := io.ReadFull(b, buf); err != nil {
				return
			}
			if _, err := b.Write(buf); err != nil {
				return
			}
		}
	}()
	roundtrip(a, n/10+1) // warm-up
	fmt.Printf("socket_roundtrip_ns %.1f\n", roundtrip(a, n))
	a.Close()
}
