// queue: Go twin of mt_queue, GOMAXPROCS=1, buffered channels of capacity
// 64, N iterations (argv[1], default 1,000,000). Prints:
//
//	queue_roundtrip_ns: main sends a value to an echo goroutine over channel
//	                    `ping` and receives it back over `pong`; elapsed / N.
//	queue_stream_ns:    a producer sends N values to a consumer over one
//	                    channel; elapsed / N (until the consumer has them all).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

const capacity = 64

func roundtrip(n int) float64 {
	ping, pong := make(chan int, capacity), make(chan int, capacity)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t0 := time.Now()
	check := 0
	for i := 0; i < n; i++ {
		ping <- i
		check += <-pong
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	close(ping)
	if check != n*(n-1)/2 {
		fmt.Fprintln(os.Stderr, "roundtrip: bad sum")
	}
	return ns
}

func stream(n int) float64 {
	ch, done := make(chan int, capacity), make(chan int)
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
		fmt.Fprintln(os.Stderr, "stream: bad sum")
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
	fmt.Printf("queue_roundtrip_ns %.1f\n", roundtrip(n))
	stream(n/10 + 1)
	fmt.Printf("queue_stream_ns %.1f\n", stream(n))
}
