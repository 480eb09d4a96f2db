#include "keygen_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "cli_common.h"
#include "murmur/runtime/identity.h"

namespace murmur::cli {
namespace {

// Every failure but an unwritable file system is the user's to fix.
int Fail(const char* command, const Status& status) {
  return cli::Fail(command, status, UsageErrors::kAllButUnavailable);
}

}  // namespace

CLI::App* AddKeygenCommand(CLI::App& app, KeygenOptions& options) {
  CLI::App* keygen = app.add_subcommand(
      "keygen",
      "Write a peer key pair (DIR/peer.key) and a network key (DIR/net.key), mode 0600;\n"
      "print the public key for allowlists. Refuses to overwrite.");
  keygen->add_option("dir", options.dir, "Directory for the key files (created if absent)")
      ->required();
  keygen->add_flag("--no-network-key", options.no_network_key,
                   "Only the key pair (the network key is made once, then copied)");
  return keygen;
}

CLI::App* AddIdCommand(CLI::App& app, IdOptions& options) {
  CLI::App* id = app.add_subcommand("id", "Print the public key of a peer key file (hex)");
  id->add_option("keyfile", options.key_path, "An Ed25519 key file (murmur keygen, peer --key)")
      ->required()
      ->check(CLI::ExistingFile);
  return id;
}

int KeygenCommand(const KeygenOptions& options) {
  const std::filesystem::path dir(options.dir);
  const std::string key_path = (dir / "peer.key").string();
  const std::string net_path = (dir / "net.key").string();
  // Check both before writing either, so a refusal leaves nothing behind.
  for (const std::string& path : {key_path, net_path}) {
    if (path == net_path && options.no_network_key) continue;
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      return Fail("keygen", Status::InvalidArgument(
                                "'", path,
                                "' exists; refusing to overwrite a key (pick another directory)"));
    }
  }
  Result<net::Identity> identity = net::Identity::LoadOrCreate(key_path);
  if (!identity.ok()) return Fail("keygen", identity.status());
  if (!options.no_network_key) {
    if (Status s = net::CreateNetworkKeyFile(net_path); !s.ok()) return Fail("keygen", s);
  }
  std::printf("%s\n", net::ToHex(identity->public_key()).c_str());
  std::fprintf(stderr, "murmur keygen: wrote %s%s%s (peer %s)\n", key_path.c_str(),
               options.no_network_key ? "" : " and ",
               options.no_network_key ? "" : net_path.c_str(),
               net::PeerName(identity->public_key()).c_str());
  return 0;
}

int IdCommand(const IdOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(options.key_path, ec)) {
    return Fail("id", Status::InvalidArgument("'", options.key_path, "' is not a key file"));
  }
  // The file exists, so LoadOrCreate only loads it (never creates one).
  Result<net::Identity> identity = net::Identity::LoadOrCreate(options.key_path);
  if (!identity.ok()) return Fail("id", identity.status());
  std::printf("%s\n", net::ToHex(identity->public_key()).c_str());
  return 0;
}

}  // namespace murmur::cli
