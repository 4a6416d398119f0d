// nonblocking_io/subprocess_codec.hpp — how the value a function returns in
// a subprocess becomes bytes there and a value again in the parent.
//
// The function's arguments need no codec: the child is a fork of the parent,
// so whatever the callable captured or was given is already in its memory.
// Only the result crosses back, as bytes, and the caller chooses how:
//
//   std::string, std::vector<std::byte>   the bytes themselves
//   void                                  nothing (an empty answer)
//   a trivially copyable type (int, double, a struct of such)
//                                         its object representation, sizeof(T) bytes
//   anything else                         specialize subprocess_codec<T>:
//
//   template <> struct mt::subprocess_codec<point3> {
//       static std::string encode(const point3& p);          // in the child; may throw
//       static point3 decode(std::string_view bytes);       // in the parent; may throw
//   };
//
// A decode that throws a std::exception makes result() raise
// subprocess_error (a bad answer) carrying its message. A trivially copyable
// type holding pointers crosses bit for bit: a pointer into the child's heap
// means nothing in the parent, so such types need a codec of their own.
#pragma once

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mt {

template <class T>
struct subprocess_codec;  // no codec: call_in_subprocess says what to do

template <>
struct subprocess_codec<std::string> {
    static std::string encode(std::string v) { return v; }
    static std::string decode(std::string_view bytes) { return std::string(bytes); }
};

template <>
struct subprocess_codec<std::vector<std::byte>> {
    static std::string encode(const std::vector<std::byte>& v) {
        return std::string(reinterpret_cast<const char*>(v.data()), v.size());
    }
    static std::vector<std::byte> decode(std::string_view bytes) {
        const auto* b = reinterpret_cast<const std::byte*>(bytes.data());
        return std::vector<std::byte>(b, b + bytes.size());
    }
};

template <class T>
    requires(std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T> &&
             !std::is_void_v<T>)
struct subprocess_codec<T> {
    static std::string encode(const T& v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }
    static T decode(std::string_view bytes) {
        if (bytes.size() != sizeof(T))
            throw std::length_error(std::to_string(bytes.size()) + " bytes came back for a value of " +
                                    std::to_string(sizeof(T)) + " bytes");
        std::array<char, sizeof(T)> raw;
        std::memcpy(raw.data(), bytes.data(), sizeof(T));
        return std::bit_cast<T>(raw);
    }
};

namespace detail {
// has_subprocess_codec — R can come back from a subprocess.
template <class R>
concept has_subprocess_codec = std::is_void_v<R> || requires(const R& v, std::string_view b) {
    { subprocess_codec<R>::encode(v) } -> std::convertible_to<std::string>;
    { subprocess_codec<R>::decode(b) } -> std::convertible_to<R>;
};
}  // namespace detail

}  // namespace mt
