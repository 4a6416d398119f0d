// parked: Go twin of mt_parked. Starts N goroutines (argv[1], default
// 100,000) that each block on a receive from one channel, so all are alive at
// once; RSS from /proc/self/statm before/after. Prints rss_per_thread_bytes =
// (RSS after - RSS before) / N, then closes the channel and waits for all.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
)

func rss() int64 {
	var size, resident int64
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		fmt.Sscan(string(b), &size, &resident)
	}
	return resident * int64(os.Getpagesize())
}

func main() {
	runtime.GOMAXPROCS(1)
	n := 100000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			n = v
		}
	}
	release := make(chan struct{})
	var started, done sync.WaitGroup
	runtime.GC()
	before := rss()
	started.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-release
			done.Done()
		}()
	}
	started.Wait()
	runtime.Gosched() // let the last starter reach its receive
	after := rss()
	fmt.Printf("rss_per_thread_bytes %.1f\n", float64(after-before)/float64(n))
	close(release)
	done.Wait()
	fmt.Fprintf(os.Stderr, "parked: n=%d rss_before=%d rss_after=%d\n", n, before, after)
}
