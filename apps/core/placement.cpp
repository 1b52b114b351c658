#include "placement.hpp"

#include <algorithm>
#include <cctype>

namespace core {

bool Placement::here(std::string_view service) const {
  if (service == "submitter") service = "receiver";
  if (service == "workers" || service == "worker-gateway") service = "dispatcher";
  if (only) return only->count(std::string(service)) != 0;
  return elsewhere.count(std::string(service)) == 0;
}

std::string_view consumer_of(ChannelType channel) {
  switch (channel) {
    case ChannelType::Submissions:
      return "receiver";
    case ChannelType::ToHibernator:
      return "hibernator";
    case ChannelType::ToScheduler:
      return "scheduler";
    case ChannelType::ToDispatcher:
      return "dispatcher";
    case ChannelType::ToHarvester:
      return "harvester";
    case ChannelType::HarvesterToArchive:
      return "task-archive";
    case ChannelType::FromWorkers:
      return "worker-gateway";
  }
  return "?";
}

std::vector<std::string_view> producers_of(ChannelType channel) {
  switch (channel) {
    case ChannelType::Submissions:
      return {"submitter"};
    case ChannelType::ToHibernator:
      return {"receiver", "harvester"};
    case ChannelType::ToScheduler:
      return {"receiver", "hibernator", "dispatcher", "harvester"};
    case ChannelType::ToDispatcher:
      return {"scheduler", "workers"};
    case ChannelType::ToHarvester:
      return {"dispatcher", "workers"};
    case ChannelType::HarvesterToArchive:
      return {"harvester"};
    case ChannelType::FromWorkers:
      return {};  // workers in their own processes
  }
  return {};
}

Route route(ChannelType channel, const Placement& placement) {
  const auto producers = producers_of(channel);
  const bool consumed_here = placement.here(consumer_of(channel));
  const bool some_here = std::any_of(producers.begin(), producers.end(), [&](auto p) { return placement.here(p); });
  const bool some_elsewhere =
      channel == ChannelType::FromWorkers ||
      std::any_of(producers.begin(), producers.end(), [&](auto p) { return !placement.here(p); });
  if (consumed_here) return some_elsewhere ? Route::inbound : Route::local;
  return some_here ? Route::outbound : Route::absent;
}

InputResult<std::set<std::string>> parse_services(std::string_view list) {
  std::set<std::string> services;
  std::string known;
  for (auto s : kNodeServices) known += (known.empty() ? "" : ", ") + std::string(s);
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto comma = std::min(list.find(',', start), list.size());
    std::string name(list.substr(start, comma - start));
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name.empty()) return InputError{"--services: an empty name in '" + std::string(list) + "'; expected " + known};
    if (std::find(kNodeServices.begin(), kNodeServices.end(), name) == kNodeServices.end())
      return InputError{"--services: '" + name + "' is not a service a node can run; expected " + known +
                        " (the receiver, task-archive and logger stay with `run`)"};
    if (!services.insert(name).second) return InputError{"--services: '" + name + "' is named twice"};
    start = comma + 1;
  }
  return services;
}

}  // namespace core
