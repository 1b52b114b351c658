// The cnats peer: the NATS channel cases on a plain cnats publish/subscribe loop
// (bench/nats/plain_cases.cpp), the engine's own ceiling beside swarmsync's bridges.

#include "bench.hpp"
#include "nats_cases.hpp"

int main(int argc, char** argv) { return bench::run(argc, argv, "cnats", bench::nats::plain_cases()); }
