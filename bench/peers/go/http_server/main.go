// http_server: Go twin of pep_examples/http_server, GOMAXPROCS=1 unless the
// environment sets GOMAXPROCS (the two-engine rows run it with GOMAXPROCS=2). A net/http
// hello world with keep-alive (net/http's default): every path answers
// "Hello, world!\n" with Content-Type text/plain (Content-Length 14; net/http
// adds its own Date header). Usage: http_server [PORT] (0 or none: any
// port). Prints "listening on PORT", serves 127.0.0.1 until SIGINT (or
// SIGTERM), then prints "interrupted; bye".
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

var body = []byte("Hello, world!\n")

func hello(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain"}
	h["Content-Length"] = []string{"14"}
	w.Write(body)
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
		fmt.Fprintln(os.Stderr, "http_server:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	// net.Listen's accepted TCP connections have TCP_NODELAY set (Go's default).
	go http.Serve(ln, http.HandlerFunc(hello))
	<-sig
	ln.Close()
	fmt.Println("interrupted; bye")
}
