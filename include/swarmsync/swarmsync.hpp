#pragma once
// Everything of the core library in one include (`swarmsync::swarmsync`): the channels
// (swarmsync/channels.hpp, header-only) and the runtime (swarmsync/runtime.hpp, whose supervisor
// links the `swarmsync::runtime` library). The components over other libraries have
// their own: swarmsync/observe.hpp (metrics, `swarmsync::observe`) and swarmsync/transport/nats.hpp
// (NATS JetStream, `swarmsync::nats`).

#include "swarmsync/channels.hpp"
#include "swarmsync/runtime.hpp"
