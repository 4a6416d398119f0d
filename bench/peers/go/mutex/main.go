// mutex: Go twin of mt_mutex, GOMAXPROCS=1, N iterations (argv[1], default
// 10,000,000). Prints:
//
//	lock_unlock_ns: one goroutine locks and unlocks a free sync.Mutex N
//	                times (a counter is bumped inside); elapsed / N.
//	handoff_ns:     two goroutines both want the mutex all the time;
//	                elapsed / the number of times the holder changed,
//	                counted inside the critical sections as mt_mutex does.
//	                sync.Mutex lets the releaser take it straight back
//	                (outside its starvation mode), so the loop
//	                { Unlock(); Lock() } keeps the other out; each goroutine
//	                loops { Unlock(); runtime.Gosched(); Lock() } instead,
//	                which makes the holder change at every unlock.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func uncontended(n int) float64 {
	var m sync.Mutex
	counter := 0
	t0 := time.Now()
	for i := 0; i < n; i++ {
		m.Lock()
		counter++
		m.Unlock()
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	if counter != n {
		fmt.Fprintln(os.Stderr, "uncontended: bad count")
	}
	return ns
}

func handoff(rounds int) float64 {
	var m sync.Mutex
	changes, last := 0, -1
	held := func(me int) {
		if last != me {
			changes++
		}
		last = me
	}
	done := make(chan struct{})
	m.Lock()
	held(0)
	go func() {
		m.Lock()
		held(1)
		for i := 0; i < rounds; i++ {
			m.Unlock()
			runtime.Gosched()
			m.Lock()
			held(1)
		}
		m.Unlock()
		close(done)
	}()
	runtime.Gosched() // the other goroutine now waits for the mutex
	changes = 0
	t0 := time.Now()
	for i := 0; i < rounds; i++ {
		m.Unlock()
		runtime.Gosched()
		m.Lock()
		held(0)
	}
	ns := float64(time.Since(t0).Nanoseconds())
	counted := changes
	m.Unlock()
	<-done
	if counted < 2*rounds-1 {
		fmt.Fprintf(os.Stderr, "mutex: the mutex changed hands %d times in %d unlocks\n", counted, 2*rounds)
	}
	if counted == 0 {
		counted = 1
	}
	return ns / float64(counted)
}

func main() {
	runtime.GOMAXPROCS(1)
	n := 10000000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			n = v
		}
	}
	uncontended(n/10 + 1) // warm-up
	fmt.Printf("lock_unlock_ns %.1f\n", uncontended(n))
	handoff(n/20 + 1)
	fmt.Printf("handoff_ns %.1f\n", handoff(n/2))
}
