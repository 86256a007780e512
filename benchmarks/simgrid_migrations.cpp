// k concurrent live migrations of idle VMs over one shared link, in SimGrid.
//
// The yardstick of benchmarks/migration.py's `concurrent_migrations` row: k VMs of
// --ram-bytes each, doing nothing (nothing is dirtied), start on host "src"; at
// --migrate-at seconds one actor per VM calls sg_vm_migrate to host "dst", all at once,
// over one link of --bandwidth-bps shared by every transfer (sharing_policy SHARED, as
// one Ethernet segment). Prints one JSON line: the SimGrid version, k, and the simulated
// time from the request to the last migration's return. The benchmark measures this
// program's wall time and peak memory.
//
// The platform and the plugin calls follow experiments/simgrid-crosscheck/driver.cpp
// (same network model, LV08, and migration speed = the link's bandwidth); the option
// reading and the platform file are shared with it (platform.hpp there).
//
// Build:  g++ -std=c++17 -O2 simgrid_migrations.cpp $(pkg-config --cflags --libs simgrid)
// Run:    ./simgrid_migrations --vms=1000 --ram-bytes=1073741824 --bandwidth-bps=1e10
//                              --latency-s=5e-6 --migrate-at=0.01

#include <simgrid/plugins/live_migration.h>
#include <simgrid/s4u.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

#include "../experiments/simgrid-crosscheck/platform.hpp"

namespace sg4 = simgrid::s4u;

namespace {

struct Options {
  int vms             = 1;
  double ram_bytes    = 1073741824.0;
  double bandwidth    = 1e10; // bit/s
  double latency_s    = 5e-6;
  double migrate_at   = 0.01;
};

const char* const PROGRAM = "simgrid_migrations";

Options parse(int argc, char** argv)
{
  Options o;
  rhodos_simgrid::parse_options(PROGRAM, argc, argv, [&o](const std::string& key, const std::string& val) {
    double value = rhodos_simgrid::number(PROGRAM, key, val);
    if (key == "vms")
      o.vms = static_cast<int>(value);
    else if (key == "ram-bytes")
      o.ram_bytes = value;
    else if (key == "bandwidth-bps")
      o.bandwidth = value;
    else if (key == "latency-s")
      o.latency_s = value;
    else if (key == "migrate-at")
      o.migrate_at = value;
    else {
      std::cerr << PROGRAM << ": unknown option --" << key
                << " (allowed: --vms, --ram-bytes, --bandwidth-bps, --latency-s, --migrate-at)\n";
      std::exit(2);
    }
  });
  if (o.vms < 1) {
    std::cerr << PROGRAM << ": --vms must be at least 1\n";
    std::exit(2);
  }
  return o;
}

} // namespace

int main(int argc, char** argv)
{
  sg4::Engine engine(&argc, argv);
  Options o = parse(argc, argv);
  sg4::Engine::set_config("network/model:LV08");
  sg_vm_live_migration_plugin_init();

  // One Ethernet segment (SHARED): every transfer shares it.
  std::string platform =
      rhodos_simgrid::write_platform(PROGRAM, {1e9, o.bandwidth, o.latency_s, /*split_duplex=*/false});
  engine.load_platform(platform);
  std::remove(platform.c_str());
  sg4::Host* src = engine.host_by_name("src");
  sg4::Host* dst = engine.host_by_name("dst");

  double last_return = -1;
  int returned       = 0;
  for (int i = 0; i < o.vms; i++) {
    auto* vm = src->create_vm("vm" + std::to_string(i), 1, static_cast<size_t>(o.ram_bytes));
    sg_vm_set_migration_speed(vm, o.bandwidth / 8.0);
    vm->start();
    sg4::Actor::create("migrator" + std::to_string(i), src, [vm, dst, &o, &last_return, &returned] {
      sg4::this_actor::sleep_for(o.migrate_at);
      sg_vm_migrate(vm, dst);
      last_return = sg4::Engine::get_clock();
      returned++;
    });
  }
  engine.run();

  if (returned != o.vms) {
    std::cerr << "simgrid_migrations: " << returned << " of " << o.vms << " migrations returned\n";
    return 1;
  }
  std::cout.precision(17);
  std::cout << "{\"simgrid_version\":\"" << rhodos_simgrid::version() << "\",\"vms\":" << o.vms
            << ",\"simulated_s\":" << last_return - o.migrate_at << "}" << std::endl;
  return 0;
}
