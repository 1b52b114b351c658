#pragma once
// Force-included before the README's block supervising_services_1, the supervisor snippet, which
// goes on from the "Wiring services" block: that block itself (ChannelType, Shared, handle).
#include "wiring_services_1.cpp"
