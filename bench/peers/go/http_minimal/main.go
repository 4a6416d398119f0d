// http_minimal: the same-work Go twin of pep_examples/http_server, GOMAXPROCS=1 unless the
// environment sets GOMAXPROCS (the two-engine rows run it with GOMAXPROCS=2).
// One goroutine per connection with one fixed 8 KiB buffer, like ours: it
// reads until a whole head is buffered, checks the request line (method,
// target, HTTP/1.x) and each header line (a name, a colon), takes
// Content-Length (the body is read and dropped), Connection: close and
// Transfer-Encoding (answered 501) from the headers, and writes the same
// bytes ours writes: "HTTP/1.1 200 OK", Content-Type text/plain,
// Content-Length 14, "Hello, world!\n". A head over 8 KiB or out of the
// grammar gets 400/431 and the connection closes. No Date header, no
// net/http (bench/peers/go/http_server keeps Go's net/http as context).
// Usage: http_minimal [PORT]; prints "listening on PORT", serves 127.0.0.1
// until SIGINT or SIGTERM.
package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

var (
	okReply   = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n")
	okClose   = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\nHello, world!\n")
	badReq    = []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nBad Request\n")
	tooLarge  = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nContent-Length: 32\r\nConnection: close\r\n\r\nRequest Header Fields Too Large\n")
	notImpl   = []byte("HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\nContent-Length: 16\r\nConnection: close\r\n\r\nNot Implemented\n")
	crlf      = []byte("\r\n")
	endOfHead = []byte("\r\n\r\n")
)

type request struct {
	close         bool
	chunked       bool
	contentLength int64
}

// parse checks a head (without its final blank line) and returns what the
// answer depends on; ok false when it is out of the grammar.
func parse(head []byte) (r request, ok bool) {
	line, rest, _ := bytes.Cut(head, crlf)
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return r, false
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return r, false
	}
	version := line[sp1+1+sp2+1:]
	if len(version) != 8 || !bytes.HasPrefix(version, []byte("HTTP/1.")) {
		return r, false
	}
	r.close = version[7] == '0'
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, crlf)
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return r, false
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return r, false
			}
			r.contentLength = n
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				r.close = true
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				r.close = false
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			r.chunked = true
		}
	}
	return r, true
}

func serve(c net.Conn) {
	defer c.Close()
	var buf [8192]byte
	begin, end := 0, 0
	for {
		i := bytes.Index(buf[begin:end], endOfHead)
		if i < 0 {
			if begin > 0 {
				copy(buf[:], buf[begin:end])
				end -= begin
				begin = 0
			}
			if end == len(buf) {
				c.Write(tooLarge)
				return
			}
			n, err := c.Read(buf[end:])
			if n <= 0 || err != nil {
				return
			}
			end += n
			continue
		}
		r, ok := parse(buf[begin : begin+i])
		begin += i + 4
		if !ok {
			c.Write(badReq)
			return
		}
		if r.chunked {
			c.Write(notImpl)
			return
		}
		for skip := r.contentLength; skip > 0; { // drop the body
			if begin == end {
				n, err := c.Read(buf[:])
				if n <= 0 || err != nil {
					return
				}
				begin, end = 0, n
			}
			k := int64(end - begin)
			if k > skip {
				k = skip
			}
			begin += int(k)
			skip -= k
		}
		if r.close {
			c.Write(okClose)
			return
		}
		if _, err := c.Write(okReply); err != nil {
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
		fmt.Fprintln(os.Stderr, "http_minimal:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	<-sig
	ln.Close()
	fmt.Println("interrupted; bye")
}
