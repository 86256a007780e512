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
// (same network model, LV08, and migration speed = the link's bandwidth).
//
// Build:  g++ -std=c++17 -O2 simgrid_migrations.cpp $(pkg-config --cflags --libs simgrid)
// Run:    ./simgrid_migrations --vms=1000 --ram-bytes=1073741824 --bandwidth-bps=1e10
//                              --latency-s=5e-6 --migrate-at=0.01

#include <simgrid/plugins/live_migration.h>
#include <simgrid/s4u.hpp>
#include <simgrid/version.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

namespace sg4 = simgrid::s4u;

namespace {

struct Options {
  int vms             = 1;
  double ram_bytes    = 1073741824.0;
  double bandwidth    = 1e10; // bit/s
  double latency_s    = 5e-6;
  double migrate_at   = 0.01;
};

Options parse(int argc, char** argv)
{
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    auto eq         = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::cerr << "simgrid_migrations: expected --name=value, got '" << arg << "'\n";
      std::exit(2);
    }
    std::string key = arg.substr(2, eq - 2);
    double value    = std::strtod(arg.c_str() + eq + 1, nullptr);
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
      std::cerr << "simgrid_migrations: unknown option --" << key
                << " (allowed: --vms, --ram-bytes, --bandwidth-bps, --latency-s, --migrate-at)\n";
      std::exit(2);
    }
  }
  if (o.vms < 1) {
    std::cerr << "simgrid_migrations: --vms must be at least 1\n";
    std::exit(2);
  }
  return o;
}

std::string write_platform(const Options& o)
{
  char path[] = "/tmp/rhodos-simgrid-migrations-XXXXXX";
  int fd      = mkstemp(path);
  if (fd < 0) {
    std::perror("simgrid_migrations: mkstemp");
    std::exit(1);
  }
  close(fd);
  std::string xml_path = std::string(path) + ".xml";
  std::rename(path, xml_path.c_str());
  std::ofstream xml(xml_path);
  xml.precision(17);
  xml << "<?xml version='1.0'?>\n"
      << "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
      << "<platform version=\"4.1\">\n"
      << "  <zone id=\"world\" routing=\"Full\">\n"
      << "    <host id=\"src\" speed=\"1Gf\" core=\"1\"/>\n"
      << "    <host id=\"dst\" speed=\"1Gf\" core=\"1\"/>\n"
      << "    <link id=\"segment\" bandwidth=\"" << o.bandwidth << "bps\" latency=\"" << o.latency_s
      << "s\" sharing_policy=\"SHARED\"/>\n"
      << "    <route src=\"src\" dst=\"dst\"><link_ctn id=\"segment\"/></route>\n"
      << "  </zone>\n"
      << "</platform>\n";
  return xml_path;
}

} // namespace

int main(int argc, char** argv)
{
  sg4::Engine engine(&argc, argv);
  Options o = parse(argc, argv);
  sg4::Engine::set_config("network/model:LV08");
  sg_vm_live_migration_plugin_init();

  std::string platform = write_platform(o);
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
  int major = 0;
  int minor = 0;
  int patch = 0;
  sg_version_get(&major, &minor, &patch);
  std::cout.precision(17);
  std::cout << "{\"simgrid_version\":\"" << major << "." << minor << "." << patch << "\",\"vms\":" << o.vms
            << ",\"simulated_s\":" << last_return - o.migrate_at << "}" << std::endl;
  return 0;
}
