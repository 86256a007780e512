// What the two SimGrid programs of rhodos share: reading --name=value options, writing a
// two-host platform file, and naming the SimGrid version.
//
// Used by driver.cpp (this folder: one precopy migration, the cross-check) and by
// benchmarks/simgrid_migrations.cpp (k concurrent migrations, the speed yardstick), so
// that both run on the same platform description and read their options alike.

#pragma once

#include <simgrid/version.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <unistd.h>

namespace rhodos_simgrid {

/** Calls on_option(key, value) for each `--key=value` argument; exits 2 on any other.
 *
 * Run it after sg4::Engine's constructor, which consumes SimGrid's own --cfg= and --log=. */
template <class OnOption> void parse_options(const char* program, int argc, char** argv, OnOption on_option)
{
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    auto eq         = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::cerr << program << ": expected --name=value, got '" << arg << "'\n";
      std::exit(2);
    }
    on_option(arg.substr(2, eq - 2), arg.substr(eq + 1));
  }
}

/** The number an option's value spells; exits 2, naming the option, when it is not one. */
inline double number(const char* program, const std::string& key, const std::string& value)
{
  char* end     = nullptr;
  double parsed = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || *end != '\0') {
    std::cerr << program << ": --" << key << " needs a number, got '" << value << "'\n";
    std::exit(2);
  }
  return parsed;
}

/** Two hosts, "src" and "dst", joined by one link. */
struct TwoHosts {
  double host_speed_flops;
  double bandwidth_bps;
  double latency_s;
  /** SPLITDUPLEX (each direction has the whole bandwidth, as a switched link) or SHARED
   * (one Ethernet segment: every transfer, in either direction, shares it). */
  bool split_duplex;
};

/** The platform in SimGrid's XML (DTD 4.1), written to a temporary file; its path. */
inline std::string write_platform(const char* program, const TwoHosts& p)
{
  char path[] = "/tmp/rhodos-simgrid-platform-XXXXXX";
  int fd      = mkstemp(path);
  if (fd < 0) {
    std::perror((std::string(program) + ": mkstemp").c_str());
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
      << "    <host id=\"src\" speed=\"" << p.host_speed_flops << "f\" core=\"1\"/>\n"
      << "    <host id=\"dst\" speed=\"" << p.host_speed_flops << "f\" core=\"1\"/>\n"
      << "    <link id=\"wire\" bandwidth=\"" << p.bandwidth_bps << "bps\" latency=\"" << p.latency_s
      << "s\" sharing_policy=\"" << (p.split_duplex ? "SPLITDUPLEX" : "SHARED") << "\"/>\n"
      << "    <route src=\"src\" dst=\"dst\"><link_ctn id=\"wire\"" << (p.split_duplex ? " direction=\"UP\"" : "")
      << "/></route>\n"
      << "  </zone>\n"
      << "</platform>\n";
  return xml_path;
}

/** SimGrid's version, "major.minor.patch". */
inline std::string version()
{
  int major = 0;
  int minor = 0;
  int patch = 0;
  sg_version_get(&major, &minor, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

} // namespace rhodos_simgrid
