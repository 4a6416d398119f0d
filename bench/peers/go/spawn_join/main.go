// spawn_join: Go twin of mt_spawn_join. One at a time, start a goroutine that
// does nothing but signal a WaitGroup, and wait for it; N times (argv[1],
// default 1,000,000), GOMAXPROCS=1. Prints spawn_join_ns = elapsed / N.
// many_alive_ns: 1,000 goroutines started (with one OS thread none runs
// before main waits, so all 1,000 are alive at once), then waited for;
// elapsed per goroutine. <name>_allocs: heap allocations per goroutine
// (runtime.MemStats.Mallocs).
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

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

func manyAlive(batches int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	for b := 0; b < batches; b++ {
		wg.Add(1000)
		for i := 0; i < 1000; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(batches*1000)
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
	a0 := mallocs()
	ns := run(n)
	fmt.Printf("spawn_join_ns %.1f\nspawn_join_allocs %.3g\n", ns, float64(mallocs()-a0)/float64(n))
	batches := n/1000 + 1
	manyAlive(1)
	a0 = mallocs()
	ns = manyAlive(batches)
	fmt.Printf("many_alive_ns %.1f\nmany_alive_allocs %.3g\n", ns, float64(mallocs()-a0)/float64(batches*1000))
}
