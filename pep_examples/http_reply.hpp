// pep_examples/http_reply.hpp — the complete answers of the HTTP example
// server, status line to body, built at compile time: answering costs a
// write and nothing else.
//
//   write_all(fd, http::reply(http::status::bad_request, /*close=*/true));
//
// Every answer has "Content-Type: text/plain" and a Content-Length; an answer
// that ends the connection says "Connection: close". The body of 200 is
// "Hello, world!\n"; the body of an error is its reason phrase and "\n"
// ("Bad Request\n"). A HEAD request gets the same head without the body.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include "pep_examples/http_request.hpp"

namespace http {

// code / reason — the status code and reason phrase (RFC 9110 15).
constexpr int code(status s) {
    switch (s) {
        case status::ok: return 200;
        case status::bad_request: return 400;
        case status::content_too_large: return 413;
        case status::header_fields_too_large: return 431;
        case status::not_implemented: return 501;
        case status::version_not_supported: return 505;
    }
    return 500;
}
constexpr std::string_view reason(status s) {
    switch (s) {
        case status::ok: return "OK";
        case status::bad_request: return "Bad Request";
        case status::content_too_large: return "Content Too Large";
        case status::header_fields_too_large: return "Request Header Fields Too Large";
        case status::not_implemented: return "Not Implemented";
        case status::version_not_supported: return "HTTP Version Not Supported";
    }
    return "Internal Server Error";
}

namespace detail {

inline constexpr std::size_t status_count = 6;

// reply_text — one answer's bytes in a fixed array (long enough for the
// longest: the 431 with "Connection: close").
struct reply_text {
    std::array<char, 192> bytes{};
    std::size_t size = 0;

    constexpr void add(std::string_view s) {
        for (const char c : s) bytes[size++] = c;  // past the array: not a constant expression
    }
    constexpr void add(std::size_t n) {
        char digits[20];
        std::size_t k = 0;
        do digits[k++] = static_cast<char>('0' + n % 10);
        while ((n /= 10) != 0);
        while (k) bytes[size++] = digits[--k];
    }
};

constexpr reply_text make_reply(status s, bool close) {
    reply_text r;
    char body[64] = {};
    std::size_t body_size = 0;
    const std::string_view text = s == status::ok ? std::string_view("Hello, world!") : reason(s);
    for (const char c : text) body[body_size++] = c;
    body[body_size++] = '\n';
    r.add("HTTP/1.1 ");
    r.add(static_cast<std::size_t>(code(s)));
    r.add(" ");
    r.add(reason(s));
    r.add("\r\nContent-Type: text/plain\r\nContent-Length: ");
    r.add(body_size);
    r.add(close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
    r.add(std::string_view(body, body_size));
    return r;
}

// replies — [2 * status + close]
inline constexpr auto replies = [] {
    std::array<reply_text, 2 * status_count> all{};
    for (std::size_t i = 0; i < status_count; ++i) {
        all[2 * i] = make_reply(static_cast<status>(i), false);
        all[2 * i + 1] = make_reply(static_cast<status>(i), true);
    }
    return all;
}();

}  // namespace detail

// reply — the complete answer with status `s`; with "Connection: close" when
// `close`. Static storage: valid for the whole program.
constexpr std::string_view reply(status s, bool close) {
    const detail::reply_text& r = detail::replies[2 * static_cast<std::size_t>(s) + (close ? 1 : 0)];
    return {r.bytes.data(), r.size};
}

// reply_without_body — reply(s, close) up to the empty line that ends its
// head: the answer to a HEAD request (its Content-Length still the body's).
constexpr std::string_view reply_without_body(status s, bool close) {
    const std::string_view r = reply(s, close);
    return r.substr(0, r.find("\r\n\r\n") + 4);
}

}  // namespace http
