// pep_examples/http_request.hpp — the request head of the HTTP example
// server, parsed in place and checked strictly, and the limits the server
// keeps. No I/O, no allocation: a request_head holds views into the caller's
// buffer, valid while that buffer is.
//
// What is accepted (RFC 9112, narrowed):
//   request-line = method SP target SP "HTTP/" DIGIT "." DIGIT CRLF
//   method       = 1*tchar;  target = 1*(any visible ASCII character)
//   header line  = name ":" OWS value OWS CRLF;  name = 1*tchar; no folding
//   Content-Length: digits only, at most 2^64 - 1; repeated only with the same value
//   Host: exactly one in an HTTP/1.1 request
//   Transfer-Encoding: not supported (501): bodies are framed by Content-Length only
// An HTTP version with a major other than 1 is 505; anything else out of
// this grammar is 400.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace http {

// The limits of the example server. A head (request line, header lines and
// the empty line that ends them) longer than max_head_bytes is answered 431;
// a Content-Length over max_body_bytes is answered 413 before any of the body
// is read; /sleep?ms=N accepts N up to max_sleep_ms.
inline constexpr std::size_t max_head_bytes = 8 * 1024;
inline constexpr std::uint64_t max_body_bytes = 1024 * 1024;
inline constexpr std::uint64_t max_sleep_ms = 60'000;

// status — what the server answers a request with.
enum class status {
    ok,                       // 200: a request it serves
    bad_request,              // 400: out of the grammar above, or a bad /sleep value
    content_too_large,        // 413: a Content-Length over max_body_bytes
    header_fields_too_large,  // 431: no end of the head within max_head_bytes
    not_implemented,          // 501: a request with Transfer-Encoding
    version_not_supported,    // 505: an HTTP major version other than 1
};

// request_head — what the server needs of a parsed head; the views point
// into the buffer given to parse_head.
struct request_head {
    std::string_view method;
    std::string_view target;
    bool keep_alive = true;           // false: HTTP/1.0, or "close" in Connection
    std::uint64_t content_length = 0;  // 0 without a Content-Length
};

// parse_decimal — the value of `text` when it is one or more ASCII digits
// whose value is at most `max`; nullopt for anything else (empty, a sign, a
// space, another character, a value over `max`). Never overflows.
constexpr std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) {
    if (text.empty()) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (max - digit) / 10) return std::nullopt;  // value * 10 + digit > max
        value = value * 10 + digit;
    }
    return value;
}

namespace detail {

// is_tchar — a character of an HTTP token (RFC 9110 5.6.2).
constexpr bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

constexpr bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

// is_field_char — a character allowed in a header value: visible ASCII,
// space, tab, or a byte >= 0x80; never CR, LF, NUL or another control.
constexpr bool is_field_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
}

// lower — ASCII lower case.
constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// name_is — whether header name `name` is `lower_name` (given lower-case),
// ignoring case.
constexpr bool name_is(std::string_view name, std::string_view lower_name) {
    if (name.size() != lower_name.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i)
        if (lower(name[i]) != lower_name[i]) return false;
    return true;
}

// trim — `s` without leading and trailing spaces and tabs (OWS).
constexpr std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// has_close_token — whether the comma-separated Connection value lists "close".
constexpr bool has_close_token(std::string_view value) {
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        if (name_is(trim(value.substr(0, comma)), "close")) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

// parse_request_line — method, target and version of `line` (without its
// CRLF) into `out`.
constexpr status parse_request_line(std::string_view line, request_head& out) {
    const std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return status::bad_request;
    const std::size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return status::bad_request;
    out.method = line.substr(0, sp1);
    out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (!is_token(out.method) || out.target.empty()) return status::bad_request;
    for (const char c : out.target)
        if (c <= ' ' || c == 0x7f) return status::bad_request;  // also catches a third space
    // "HTTP/" DIGIT "." DIGIT, exactly
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.') return status::bad_request;
    const char major = version[5], minor = version[7];
    if (major < '0' || major > '9' || minor < '0' || minor > '9') return status::bad_request;
    if (major != '1') return status::version_not_supported;
    out.keep_alive = minor != '0';  // HTTP/1.0 closes after each answer; 1.x >= 1 is served as 1.1
    return status::ok;
}

}  // namespace detail

// parse_head — parses `head`, the request line and the header lines, each
// ending in CRLF, without the empty line that ends the head. Returns
// status::ok with `out` filled, or the status to answer with (then `out` is
// unspecified). Checks the grammar at the top of this file; does not check
// content_length against max_body_bytes.
constexpr status parse_head(std::string_view head, request_head& out) {
    out = request_head{};
    std::size_t eol = head.find("\r\n");
    if (eol == std::string_view::npos) return status::bad_request;
    if (const status s = detail::parse_request_line(head.substr(0, eol), out); s != status::ok) return s;
    const bool http11 = out.keep_alive;
    bool has_length = false;
    int hosts = 0;
    for (std::size_t at = eol + 2; at < head.size(); at = eol + 2) {
        eol = head.find("\r\n", at);
        if (eol == std::string_view::npos) return status::bad_request;
        const std::string_view line = head.substr(at, eol - at);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return status::bad_request;
        const std::string_view name = line.substr(0, colon);  // no space before the colon, no folding
        if (!detail::is_token(name)) return status::bad_request;
        const std::string_view raw = line.substr(colon + 1);
        for (const char c : raw)
            if (!detail::is_field_char(c)) return status::bad_request;
        const std::string_view value = detail::trim(raw);
        if (detail::name_is(name, "content-length")) {
            const auto n = parse_decimal(value, UINT64_MAX);
            if (!n || (has_length && *n != out.content_length)) return status::bad_request;
            out.content_length = *n;
            has_length = true;
        } else if (detail::name_is(name, "transfer-encoding")) {
            return status::not_implemented;
        } else if (detail::name_is(name, "connection")) {
            if (detail::has_close_token(value)) out.keep_alive = false;
        } else if (detail::name_is(name, "host")) {
            ++hosts;
        }
    }
    if (hosts > 1 || (http11 && hosts == 0)) return status::bad_request;
    return status::ok;
}

}  // namespace http
