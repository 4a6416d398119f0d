// xchan: Go twin of mt_xpipe, GOMAXPROCS=2 (goroutines on two Ps), N
// iterations (argv[1], default 200,000). Prints:
//
//	cross_roundtrip_ns: main sends over `ping` (capacity 1) to an echo
//	                    goroutine that sends it back over `pong`; elapsed / N.
//	cross_stream_ns:    a producer goroutine sends 10*N values over a channel
//	                    of capacity 128; elapsed / (10*N).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func roundtrip(n int) float64 {
	ping, pong := make(chan int, 1), make(chan int, 1)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	for i := 0; i < n/10; i++ {
		ping <- i
		<-pong
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	close(ping)
	return ns
}

func stream(m int) float64 {
	ch := make(chan int, 128)
	t0 := time.Now()
	go func() {
		for i := 0; i < m; i++ {
			ch <- i
		}
		close(ch)
	}()
	sum := 0
	for v := range ch {
		sum += v
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(m)
	if sum != m*(m-1)/2 {
		fmt.Fprintln(os.Stderr, "stream: bad sum")
	}
	return ns
}

func main() {
	runtime.GOMAXPROCS(2)
	n := 200000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			n = v
		}
	}
	fmt.Printf("cross_roundtrip_ns %.1f\n", roundtrip(n))
	fmt.Printf("cross_stream_ns %.1f\n", stream(10*n))
}
