// peer_libev_stackful_pingpong: the floor of a stackful engine on libev, for
// mt_socket_pingpong. The same round trip as peer_libev_pingpong (a 1-byte
// message over a non-blocking AF_UNIX SOCK_STREAM socketpair, one libev loop,
// EVBACKEND_EPOLL, one thread), but each party is a context of its own
// (Boost.Context's make_fcontext / jump_fcontext on a 64-KiB malloc'd stack)
// that reads as blocking code: write; wait until readable; read. A wait
// does the least any engine whose contexts block on a libev loop must do:
//   * direct (default): the waiting context runs the loop itself,
//     ev_run(EVRUN_ONCE), until a read watcher's callback names the context
//     to resume, then jumps straight into it — one jump per wait;
//   * --via-loop: the waiting context jumps to a loop context, which runs
//     ev_run(EVRUN_ONCE) and jumps into the context it names — two jumps per
//     wait (the shape of an engine with a root scheduler, as ours).
// Nothing else: no wait records, no fd table, no timers, no run queue, no
// checks. Both read watchers stay started for the whole run (as ours keep
// a managed fd's). The system calls per round trip are the same as
// peer_libev_pingpong's: two writes, two reads, two epoll_waits.
// N round trips (argv[1], default 100,000) after N/10 warm-up ones.
// Prints socket_roundtrip_ns = elapsed / N.
#include "common.hpp"
#include "libev_socketpair.hpp"

#include <boost/context/detail/fcontext.hpp>
#include <cerrno>
#include <cstring>

namespace {

namespace bc = boost::context::detail;

constexpr std::size_t kStack = 64 * 1024;

struct Party {
    ev_io io;                   // first member: the callback casts ev_io* back to Party*
    bc::fcontext_t ctx = nullptr;  // where it resumes while it is suspended
    int fd = -1;
};

struct ev_loop* loop = nullptr;
Party* woken = nullptr;      // set by a read callback: the party to resume
bool via_loop = false;
bc::fcontext_t home = nullptr;  // main's stack: the loop context under --via-loop
Party* current = nullptr;

void on_readable(struct ev_loop*, ev_io* w, int) { woken = reinterpret_cast<Party*>(w); }

// switch_to — suspends the current context (saved into `from`) and resumes `to`.
void switch_to(bc::fcontext_t& from, bc::fcontext_t to) {
    bc::transfer_t t = bc::jump_fcontext(to, &from);
    *static_cast<bc::fcontext_t*>(t.data) = t.fctx;  // whoever jumped here: save where it stopped
}

// wait_readable — blocks the current party until its fd is readable.
void wait_readable() {
    Party* me = current;
    if (via_loop) {
        switch_to(me->ctx, home);
    } else {
        woken = nullptr;
        while (!woken) ev_run(loop, EVRUN_ONCE);
        if (woken != me) {
            current = woken;
            switch_to(me->ctx, woken->ctx);
        }
    }
    current = me;
}

void read_byte(Party& p) {
    char c;
    for (;;) {
        wait_readable();
        const ssize_t r = read(p.fd, &c, 1);
        if (r == 1) return;
        if (r < 0 && errno == EAGAIN) continue;
        peers::die("read");
    }
}

void write_byte(Party& p) {
    if (write(p.fd, "x", 1) != 1) peers::die("write");
}

Party a, b;
long rounds = 0;
double result_ns = 0;

void party_a(bc::transfer_t t) {
    *static_cast<bc::fcontext_t*>(t.data) = t.fctx;
    current = &a;
    for (long i = 0; i < rounds / 10 + 1; ++i) {  // warm-up
        write_byte(a);
        read_byte(a);
    }
    auto t0 = peers::clock::now();
    for (long i = 0; i < rounds; ++i) {
        write_byte(a);
        read_byte(a);
    }
    result_ns = peers::ns_since(t0) / static_cast<double>(rounds);
    bc::fcontext_t ignored;
    switch_to(ignored, home);  // never resumed
}

void party_b(bc::transfer_t t) {
    *static_cast<bc::fcontext_t*>(t.data) = t.fctx;
    current = &b;
    for (;;) {
        read_byte(b);
        write_byte(b);
    }
}

bc::fcontext_t make(void (*fn)(bc::transfer_t)) {
    auto* stack = static_cast<char*>(std::malloc(kStack));
    if (!stack) peers::die("malloc");
    return bc::make_fcontext(stack + kStack, kStack, fn);
}

}  // namespace

int main(int argc, char** argv) {
    via_loop = argc > 2 && std::strcmp(argv[2], "--via-loop") == 0;
    rounds = peers::arg_count(argc, argv, 100000);
    peers::libev_socketpair sp(&a.io, &b.io, on_readable);
    loop = sp.loop;
    a.fd = sp.fd[0];
    b.fd = sp.fd[1];

    a.ctx = make(party_a);
    b.ctx = make(party_b);
    // main's own stack is home: the loop context under --via-loop, and where
    // A jumps when it is done. B starts first and its first wait comes back
    // here (the loop must not run before A exists); then A starts.
    const bool direct = !via_loop;
    via_loop = true;
    current = &b;
    switch_to(home, b.ctx);
    via_loop = !direct;
    current = &a;
    switch_to(home, a.ctx);  // direct: back when A is done; else at A's first wait
    while (result_ns == 0) {  // --via-loop: the loop context
        woken = nullptr;
        while (!woken) ev_run(loop, EVRUN_ONCE);
        current = woken;
        switch_to(home, woken->ctx);
    }
    peers::report("socket_roundtrip_ns", result_ns);
    return 0;
}
