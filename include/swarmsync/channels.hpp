#pragma once
// The channels component (`swarmsync::channels`, Boost only): mpsc (unbounded and bounded),
// broadcast, oneshot and watch, their errors and results.
//
//     #include <swarmsync/channels.hpp>
//     auto [tx, rx] = swarmsync::mpsc::unbounded_channel<int>();

#include "swarmsync/channels/broadcast.hpp"
#include "swarmsync/channels/error.hpp"
#include "swarmsync/channels/mpsc.hpp"
#include "swarmsync/channels/oneshot.hpp"
#include "swarmsync/channels/result.hpp"
#include "swarmsync/channels/select.hpp"
#include "swarmsync/channels/watch.hpp"
