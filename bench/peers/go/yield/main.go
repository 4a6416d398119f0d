// yield: Go twin of mt_yield. Two goroutines each call runtime.Gosched() N
// times (argv[1], default 2,000,000) with GOMAXPROCS=1.
// Prints yield_ns = elapsed / total Gosched() calls across both goroutines.
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
	body := func() {
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}
	t0 := time.Now()
	wg.Add(2)
	go body()
	go body()
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(2*n)
}

func main() {
	runtime.GOMAXPROCS(1)
	n := 2000000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			n = v
		}
	}
	run(n/10 + 1) // warm-up
	fmt.Printf("yield_ns %.1f\n", run(n))
}
