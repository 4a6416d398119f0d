// spawn_join: Go twin of mt_spawn_join. One at a time, start a goroutine that
// does nothing but signal a WaitGroup, and wait for it; N times (argv[1],
// default 1,000,000), GOMAXPROCS=1. Prints spawn_join_ns = elapsed / N.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func run(n int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
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
	run(n/10 + 1) // warm-up
	fmt.Printf("spawn_join_ns %.1f\n", run(n))
}
