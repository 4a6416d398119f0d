// The HTTP example's request parser and answers (pep_examples/http_request.hpp,
// http_reply.hpp), without a server: what a head becomes, and which status
// each kind of bad head gets. The server built on them is tested as a
// process in test_servers.cpp.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "pep_examples/http_reply.hpp"
#include "pep_examples/http_request.hpp"

namespace {

// parse — the status of `head` (its lines, each with CRLF, without the
// final empty line).
http::status parse(std::string_view head, http::request_head& out) { return http::parse_head(head, out); }
http::status parse(std::string_view head) {
    http::request_head out;
    return http::parse_head(head, out);
}

}  // namespace

TEST_CASE("parse_decimal takes digits only, up to its maximum, and never overflows") {
    CHECK(http::parse_decimal("0", 10) == 0u);
    CHECK(http::parse_decimal("007", 10) == 7u);
    CHECK(http::parse_decimal("60000", 60000) == 60000u);
    CHECK(http::parse_decimal("60001", 60000) == std::nullopt);
    CHECK(http::parse_decimal("18446744073709551615", UINT64_MAX) == UINT64_MAX);
    CHECK(http::parse_decimal("18446744073709551616", UINT64_MAX) == std::nullopt);
    CHECK(http::parse_decimal("99999999999999999999999", UINT64_MAX) == std::nullopt);
    CHECK(http::parse_decimal("99999999999", 60000) == std::nullopt);
    for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.5", "0x10", "1e3", "12a"})
        CHECK_MESSAGE(http::parse_decimal(bad, UINT64_MAX) == std::nullopt, bad);
}

TEST_CASE("a well-formed head gives method, target, keep-alive and Content-Length") {
    http::request_head r;
    REQUIRE(parse("POST /x?y=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n", r) == http::status::ok);
    CHECK(r.method == "POST");
    CHECK(r.target == "/x?y=1");
    CHECK(r.keep_alive);
    CHECK(r.content_length == 12u);

    REQUIRE(parse("GET / HTTP/1.1\r\nhost:a\r\nCONNECTION: keep-alive, Close\r\n", r) == http::status::ok);
    CHECK_FALSE(r.keep_alive);
    REQUIRE(parse("GET / HTTP/1.0\r\n", r) == http::status::ok);  // no Host needed in 1.0
    CHECK_FALSE(r.keep_alive);
    CHECK(r.content_length == 0u);
    REQUIRE(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length:  5 \r\n", r) == http::status::ok);
    CHECK(r.content_length == 5u);
    CHECK(parse("GET / HTTP/1.9\r\nHost: a\r\n") == http::status::ok);  // a later 1.x is served as 1.1
}

TEST_CASE("a request line out of METHOD SP target SP HTTP/d.d is a bad request") {
    for (const char* bad : {"garbage\r\n", "GET /\r\n", "GET / HTTP/1.1 \r\n", "GET  / HTTP/1.1\r\n",
                            "GET / / HTTP/1.1\r\n", " GET / HTTP/1.1\r\n", "G(T / HTTP/1.1\r\n",
                            "GET / http/1.1\r\n", "GET / HTTP/1.10\r\n", "GET / HTTP/1\r\n", "GET / HTTP/x.1\r\n",
                            "GET /\x01 HTTP/1.1\r\n", "GET / HTTP/1.1", ""})
        CHECK_MESSAGE(parse(std::string(bad) + "Host: a\r\n") == http::status::bad_request, bad);
}

TEST_CASE("an HTTP major version other than 1 is answered 505") {
    CHECK(parse("GET / HTTP/2.0\r\nHost: a\r\n") == http::status::version_not_supported);
    CHECK(parse("GET / HTTP/0.9\r\nHost: a\r\n") == http::status::version_not_supported);
}

TEST_CASE("a Content-Length that is not one plain decimal number is a bad request") {
    for (const char* bad : {"-1", "+5", "", "1 2", "5, 5", "0x10", "99999999999999999999999", "1.0"})
        CHECK_MESSAGE(parse(std::string("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ") + bad + "\r\n") ==
                          http::status::bad_request,
                      bad);
    CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n") ==
          http::status::bad_request);
}

TEST_CASE("bad header lines, a missing or repeated Host, and Transfer-Encoding are refused") {
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n") == http::status::bad_request);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nName : v\r\n") == http::status::bad_request);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n") == http::status::bad_request);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n") == http::status::bad_request);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n") == http::status::bad_request);
    CHECK(parse(std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n", 33)) == http::status::bad_request);
    CHECK(parse("GET / HTTP/1.1\r\n") == http::status::bad_request);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n") == http::status::bad_request);
    CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n") == http::status::not_implemented);
}

TEST_CASE("every answer's Content-Length is the size of its body") {
    for (int i = 0; i < 6; ++i) {
        for (const bool close : {false, true}) {
            const auto s = static_cast<http::status>(i);
            const std::string_view r = http::reply(s, close);
            const std::size_t body_at = r.find("\r\n\r\n") + 4;
            const std::string_view head = r.substr(0, body_at);
            CHECK(head.starts_with("HTTP/1.1 " + std::to_string(http::code(s)) + " " + std::string(http::reason(s)) + "\r\n"));
            CHECK(head.find("Content-Length: " + std::to_string(r.size() - body_at) + "\r\n") != std::string_view::npos);
            CHECK((head.find("Connection: close\r\n") != std::string_view::npos) == close);
        }
    }
    CHECK(http::reply(http::status::ok, false) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n");
    CHECK(http::reply_without_body(http::status::ok, true) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\n");
    CHECK(http::reply(http::status::content_too_large, true) ==
          "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: 18\r\n"
          "Connection: close\r\n\r\nContent Too Large\n");
}
