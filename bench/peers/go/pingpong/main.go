// pingpong: Go twin of mt_pingpong, GOMAXPROCS=1, N iterations (argv[1],
// default 1,000,000). Prints:
//
//	roundtrip_ns: main sends a value to an echo goroutine over unbuffered
//	              channel `ping` and receives it back over `pong`; elapsed / N.
//	handoff_ns:   producer sends N values to a consumer over one unbuffered
//	              channel; elapsed / N.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func roundtrip(n int) float64 {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	close(ping)
	return ns
}

func handoff(n int) float64 {
	ch, done := make(chan int), make(chan int)
	go func() {
		sum := 0
		for v := range ch {
			sum += v
		}
		done <- sum
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
	sum := <-done
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	if sum != n*(n-1)/2 {
		fmt.Fprintln(os.Stderr, "handoff: bad sum")
	}
	return ns
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
	fmt.Printf("roundtrip_ns %.1f\n", roundtrip(n))
	handoff(n/10 + 1)
	fmt.Printf("handoff_ns %.1f\n", handoff(n))
}
