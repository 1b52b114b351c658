#pragma once
// A value whose int lives behind a pointer (its address tells the very object), and a codec for
// which 13 has no encoding: encode throws for it, as a codec may for a value it cannot write.
//
//     using Boxed = swarmsync::test::Boxed<std::unique_ptr<int>>;        // move-only
//     using Codec = swarmsync::test::ThirteenHasNoEncoding<Boxed>;
//     Boxed thirteen = swarmsync::test::boxed<Boxed>(13);

#include <charconv>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <swarmsync/channels/result.hpp>
#include <swarmsync/transport/nats/codec.hpp>
#include <system_error>
#include <type_traits>

namespace swarmsync::test {

template <class Ptr>
struct Boxed {
  Ptr n;
};

template <class B>
B boxed(int v) {
  using Ptr = decltype(B::n);
  if constexpr (std::is_same_v<Ptr, std::unique_ptr<int>>) return B{std::make_unique<int>(v)};
  else return B{std::make_shared<int>(v)};
}

template <class B>
struct ThirteenHasNoEncoding {
  std::string encode(const B& b) const {
    if (*b.n == 13) throw std::runtime_error("13 has no encoding");
    return std::to_string(*b.n);
  }
  swarmsync::Result<B, swarmsync::nats::DecodeError> decode(std::string_view bytes) const {
    int v = 0;
    const auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), v);
    if (ec != std::errc() || end != bytes.data() + bytes.size()) return swarmsync::nats::DecodeError{"not a number"};
    return boxed<B>(v);
  }
};

}  // namespace swarmsync::test
