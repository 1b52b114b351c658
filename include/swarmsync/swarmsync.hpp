#pragma once
// Everything of the header-only library in one include (`swarmsync::swarmsync`): the channels
// (swarmsync/channels.hpp) and the runtime (swarmsync/runtime.hpp). The compiled components have
// their own: swarmsync/observe.hpp (metrics, `swarmsync::observe`) and swarmsync/transport/nats.hpp
// (NATS JetStream, `swarmsync::nats`).

#include "swarmsync/channels.hpp"
#include "swarmsync/runtime.hpp"
