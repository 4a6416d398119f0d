// echo_server: Go twin of pep_examples/echo_server, GOMAXPROCS=1 unless the
// environment sets GOMAXPROCS (the two-engine rows run it with GOMAXPROCS=2). A TCP echo
// server with one goroutine per connection: read up to 16 KiB (the same
// buffer as ours), write it all back, until the client closes. Go sets
// TCP_NODELAY on accepted TCP connections by default, like ours.
// Usage: echo_server [PORT] (0 or none: any port). Prints "listening on
// PORT", serves 127.0.0.1 until SIGINT (or SIGTERM), then prints
// "interrupted; bye".
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16384)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	port := 0
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v >= 0 {
			port = v
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo_server:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return // listener closed
			}
			go serve(c)
		}
	}()
	<-sig
	ln.Close()
	fmt.Println("interrupted; bye")
}
