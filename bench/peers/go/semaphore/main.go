// semaphore: Go twin of mt_semaphore, GOMAXPROCS=1, N iterations (argv[1],
// default 1,000,000). golang.org/x/sync/semaphore is not in the standard
// library (and these twins build offline), so the semaphore is the usual
// channel form: a chan struct{} of capacity N holds the free permits;
// release sends a token, acquire receives one. Prints:
//
//	sem_roundtrip_ns:   main releases `ping`, a goroutine acquires it and
//	                    releases `pong`, main acquires it; elapsed / N.
//	sem_uncontended_ns: one acquire + release pair nobody waits on.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

type semaphore chan struct{}

func newSemaphore(capacity, free int) semaphore {
	s := make(semaphore, capacity)
	for i := 0; i < free; i++ {
		s <- struct{}{}
	}
	return s
}

func (s semaphore) acquire() { <-s }
func (s semaphore) release() { s <- struct{}{} }

func roundtrip(n int) float64 {
	ping, pong := newSemaphore(1, 0), newSemaphore(1, 0)
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			ping.acquire()
			pong.release()
		}
		close(done)
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping.release()
		pong.acquire()
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	<-done
	if len(ping) != 0 || len(pong) != 0 {
		fmt.Fprintln(os.Stderr, "roundtrip: permits lost")
	}
	return ns
}

func uncontended(n int) float64 {
	s := newSemaphore(1, 1)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		s.acquire()
		s.release()
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func main() {
	runtime.GOMAXPROCS(1)
	n := 1000000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			n = v
		}
	}
	roundtrip(n/10 + 1) // warm-up
	fmt.Printf("sem_roundtrip_ns %.1f\n", roundtrip(n))
	uncontended(n/10 + 1)
	fmt.Printf("sem_uncontended_ns %.1f\n", uncontended(n))
}
