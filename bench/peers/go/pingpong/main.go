// pingpong: Go twin of mt_pingpong, GOMAXPROCS=1, N iterations (argv[1],
// default 1,000,000), on an unbuffered channel and on make(chan int, 1), the
// like-for-like twin of a micro_pipe (which holds one value). Prints:
//
//	roundtrip_ns, roundtrip_buf1_ns: main sends a value to an echo goroutine
//	              over `ping` and receives it back over `pong`; elapsed / N.
//	handoff_ns, handoff_buf1_ns: a producer sends N values to a consumer over
//	              one channel; elapsed / N.
//	<name>_allocs: heap allocations per operation (runtime.MemStats.Mallocs).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

func report(name string, n int, t0 time.Time, a0 uint64) {
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	allocs := float64(mallocs()-a0) / float64(n)
	fmt.Printf("%s_ns %.1f\n%s_allocs %.3g\n", name, ns, name, allocs)
}

func roundtrip(n, capacity int, name string) {
	ping, pong := make(chan int, capacity), make(chan int, capacity)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	for i := 0; i < n/10+1; i++ { // warm-up
		ping <- i
		<-pong
	}
	a0 := mallocs()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	report(name, n, t0, a0)
	close(ping)
}

func handoff(n, capacity int, name string) {
	ch, done := make(chan int, capacity), make(chan int)
	go func() {
		sum := 0
		for v := range ch {
			sum += v
		}
		done <- sum
	}()
	a0 := mallocs()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
	sum := <-done
	report(name, n, t0, a0)
	if sum != n*(n-1)/2 {
		fmt.Fprintln(os.Stderr, "handoff: bad sum")
	}
}

func main() {
	runtime.GOMAXPROCS(1)
	n := 1000000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			n = v
		}
	}
	roundtrip(n, 0, "roundtrip")
	handoff(n/10+1, 0, "warmup")
	handoff(n, 0, "handoff")
	roundtrip(n, 1, "roundtrip_buf1")
	handoff(n, 1, "handoff_buf1")
}
