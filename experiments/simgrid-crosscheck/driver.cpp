// One precopy live migration in SimGrid, measured; the SimGrid side of the rhodos
// cross-check (see README.md in this folder).
//
// Two physical hosts joined by one link; one VM on the first host runs a CPU-bound task
// for the whole run (SimGrid dirties a VM's memory in proportion to the flops it
// computes); at --migrate-at seconds the VM is migrated once with the live-migration
// plugin (sg_vm_migrate) and the driver prints one JSON line:
//
//   total_s     sg_vm_migrate called -> returned (stages 1, 2 and 3 and the final ack)
//   downtime_s  VM suspended (start of stage 3) -> VM resumed on the destination
//   transfers   every migration-data transfer: stage (1, 2, 3), bytes, start, end
//
// Build:  g++ -std=c++17 -O2 driver.cpp $(pkg-config --cflags --libs simgrid) -o driver
// Run:    ./driver --ram-bytes=268435456 --intensity=0.3 --working-set-bytes=134217728
//                  --bandwidth-bps=1e9 --latency-s=30e-6   (one command line)
//
// Every option has a default (see Options below); unknown options are an error.

#include <simgrid/plugins/live_migration.h>
#include <simgrid/s4u.hpp>
#include <simgrid/s4u/VirtualMachine.hpp>

#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "platform.hpp"

namespace sg4 = simgrid::s4u;

namespace {

struct Options {
  double ram_bytes         = 256.0 * 1024 * 1024; // VM memory (stage 1 sends all of it)
  double intensity         = 0.3;                 // sg_vm_set_dirty_page_intensity (see README)
  double working_set_bytes = 128.0 * 1024 * 1024; // sg_vm_set_working_set_memory (cap per round)
  double bandwidth_bps     = 1e9;                 // link capacity, bits per second
  double latency_s         = 30e-6;               // link latency, seconds
  double mig_speed_bps     = 0;                   // sg_vm_set_migration_speed; 0: = bandwidth
  double host_speed_flops  = 1e9;                 // PM speed (cancels out of the dirty rate)
  double migrate_at        = 1.0;                 // simulated time of the migration request
  std::string network_model = "LV08";             // SimGrid's default, validated TCP model
};

const char* const PROGRAM = "driver";

Options parse(int argc, char** argv)
{
  Options o;
  rhodos_simgrid::parse_options(PROGRAM, argc, argv, [&o](const std::string& key, const std::string& val) {
    if (key == "network-model") {
      o.network_model = val;
      return;
    }
    double value = rhodos_simgrid::number(PROGRAM, key, val);
    if (key == "ram-bytes")
      o.ram_bytes = value;
    else if (key == "intensity")
      o.intensity = value;
    else if (key == "working-set-bytes")
      o.working_set_bytes = value;
    else if (key == "bandwidth-bps")
      o.bandwidth_bps = value;
    else if (key == "latency-s")
      o.latency_s = value;
    else if (key == "mig-speed-bps")
      o.mig_speed_bps = value;
    else if (key == "host-speed-flops")
      o.host_speed_flops = value;
    else if (key == "migrate-at")
      o.migrate_at = value;
    else {
      std::cerr << PROGRAM << ": unknown option --" << key
                << " (options: ram-bytes, intensity, working-set-bytes, bandwidth-bps, latency-s, "
                   "mig-speed-bps, host-speed-flops, migrate-at, network-model)\n";
      std::exit(2);
    }
  });
  if (o.mig_speed_bps <= 0)
    o.mig_speed_bps = o.bandwidth_bps;
  return o;
}

struct Stage {
  double bytes;
  double start;
  double end;
};

struct Measure {
  double requested = -1, returned = -1, suspended = -1, resumed = -1;
  std::vector<Stage> transfers;
  std::map<const sg4::Activity*, size_t> pending; // sender comm -> index in transfers
} measure;

bool is_migration_data(const sg4::Comm& comm)
{
  const sg4::Mailbox* mbox = comm.get_mailbox();
  return mbox != nullptr && mbox->get_name().rfind("__mbox_mig_src_dst:", 0) == 0;
}

} // namespace

int main(int argc, char** argv)
{
  sg4::Engine engine(&argc, argv); // consumes SimGrid's own --cfg=... and --log=... options
  Options o = parse(argc, argv);
  sg4::Engine::set_config("network/model:" + o.network_model);
  sg_vm_live_migration_plugin_init();

  // One full-duplex link, like the switched links of the rhodos profiles; with a SHARED
  // link, the TCP acknowledgement cross-traffic that LV08 models in the reverse direction
  // would take ~5% of the data's bandwidth.
  std::string platform = rhodos_simgrid::write_platform(
      PROGRAM, {o.host_speed_flops, o.bandwidth_bps, o.latency_s, /*split_duplex=*/true});
  engine.load_platform(platform);
  std::remove(platform.c_str());

  sg4::Host* src = engine.host_by_name("src");
  sg4::Host* dst = engine.host_by_name("dst");

  sg4::VirtualMachine* vm = src->create_vm("vm", 1, static_cast<size_t>(o.ram_bytes));
  // Bytes dirtied per flop = mig_speed * intensity / host_speed (VmLiveMigration.cpp), so a
  // VM computing at full host speed dirties intensity * mig_speed bytes per second.
  sg_vm_set_migration_speed(vm, o.mig_speed_bps / 8.0);
  sg_vm_set_dirty_page_intensity(vm, o.intensity);
  sg_vm_set_working_set_memory(vm, static_cast<sg_size_t>(o.working_set_bytes));
  vm->start();

  sg4::VirtualMachine::on_suspend_cb([](sg4::VirtualMachine const&) { measure.suspended = sg4::Engine::get_clock(); });
  sg4::VirtualMachine::on_resume_cb([](sg4::VirtualMachine const&) { measure.resumed = sg4::Engine::get_clock(); });
  // Each migration-data transfer is one comm on the sender's side (the receiver's get() is
  // another Comm object on the same mailbox, so completions are matched by sender comm).
  sg4::Comm::on_send_cb([](sg4::Comm const& comm) {
    if (not is_migration_data(comm))
      return;
    measure.pending[&comm] = measure.transfers.size();
    measure.transfers.push_back({comm.get_remaining(), sg4::Engine::get_clock(), -1});
  });
  sg4::Activity::on_completion_cb([](sg4::Activity const& activity) {
    auto found = measure.pending.find(&activity);
    if (found == measure.pending.end())
      return;
    measure.transfers[found->second].end = sg4::Engine::get_clock();
    measure.pending.erase(found);
  });

  // The VM's workload: compute for the whole run (1e6 s at 1 Gflop/s; a daemon, killed when
  // the migrator is done). Not 1e30 flops: the plugin counts the flops computed as the
  // difference of two remaining amounts, which at 1e30 rounds to zero (nothing dirtied).
  sg4::Actor::create("worker", vm, [] {
    sg4::Actor::self()->daemonize();
    sg4::this_actor::execute(1e15);
  });

  sg4::Actor::create("migrator", src, [vm, dst, &o] {
    sg4::this_actor::sleep_for(o.migrate_at);
    measure.requested = sg4::Engine::get_clock();
    sg_vm_migrate(vm, dst);
    measure.returned = sg4::Engine::get_clock();
  });

  engine.run();

  if (measure.returned < 0 || measure.suspended < 0 || measure.resumed < 0) {
    std::cerr << "driver: the migration did not complete\n";
    return 1;
  }

  // The transfers in order are stage 1, stage-2 rounds, stage 3 (the one started after the
  // suspension). Bytes are the sizes handed to the network (Comm remaining at start).
  std::ostringstream out;
  out.precision(17);
  out << "{\"simgrid_version\":\"" << rhodos_simgrid::version() << "\""
      << ",\"network_model\":\"" << o.network_model << "\""
      << ",\"ram_bytes\":" << o.ram_bytes << ",\"intensity\":" << o.intensity
      << ",\"working_set_bytes\":" << o.working_set_bytes << ",\"bandwidth_bps\":" << o.bandwidth_bps
      << ",\"latency_s\":" << o.latency_s << ",\"mig_speed_bps\":" << o.mig_speed_bps
      << ",\"max_downtime_s\":" << sg_vm_get_max_downtime(vm) << ",\"requested_at\":" << measure.requested
      << ",\"total_s\":" << measure.returned - measure.requested
      << ",\"downtime_s\":" << measure.resumed - measure.suspended << ",\"transfers\":[";
  for (size_t i = 0; i < measure.transfers.size(); i++) {
    const Stage& t = measure.transfers[i];
    int stage      = i == 0 ? 1 : (t.start >= measure.suspended ? 3 : 2);
    out << (i ? "," : "") << "{\"stage\":" << stage << ",\"bytes\":" << t.bytes << ",\"start\":" << t.start
        << ",\"end\":" << t.end << "}";
  }
  out << "]}";
  std::cout << out.str() << std::endl;
  return 0;
}
