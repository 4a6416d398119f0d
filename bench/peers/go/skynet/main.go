// skynet: Go's reference shape of the skynet benchmark, the twin of
// mt_skynet. A goroutine of size s > 1 starts ten goroutines of size s/10 and
// sums the ten numbers they send on its one unbuffered channel; a goroutine
// of size 1 sends its own number. N = argv[1] (default 1,000,000). The
// number of OS threads is GOMAXPROCS from the environment (bench/run runs it
// with 1 and with 2). Prints skynet_ms (the whole tree), skynet_allocs (heap
// allocations per goroutine, runtime.MemStats.Mallocs) and skynet_threads.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func skynet(out chan<- int, num, size, div int) {
	if size == 1 {
		out <- num
		return
	}
	results := make(chan int)
	for i := 0; i < div; i++ {
		go skynet(results, num+i*(size/div), size/div, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-results
	}
	out <- sum
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

func once(n int) (int, float64) {
	root := make(chan int)
	t0 := time.Now()
	go skynet(root, 0, n, 10)
	sum := <-root
	return sum, float64(time.Since(t0).Nanoseconds()) / 1e6
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			n = v
		}
	}
	threads := 0
	for s := n; s >= 1; s /= 10 {
		threads += n / s
	}
	once(n) // warm-up
	a0 := mallocs()
	sum, ns := once(n)
	allocs := float64(mallocs()-a0) / float64(threads)
	if sum != n*(n-1)/2 {
		fmt.Fprintf(os.Stderr, "skynet: sum %d, expected %d\n", sum, n*(n-1)/2)
		os.Exit(1)
	}
	fmt.Printf("skynet_ms %.1f\nskynet_allocs %.3g\nskynet_threads %d\n", ns, allocs, threads)
}
