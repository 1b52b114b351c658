#pragma once
// The namespace alias every swarmsync header uses for Boost.Asio.

namespace boost::asio {}

namespace swarmsync {
namespace asio = boost::asio;
}  // namespace swarmsync
