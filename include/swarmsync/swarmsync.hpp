#pragma once
// Everything of swarmsync in one include.

#include "swarmsync/channels/broadcast.hpp"
#include "swarmsync/channels/error.hpp"
#include "swarmsync/channels/mpsc.hpp"
