// `murmur keygen DIR` and `murmur id KEYFILE`: the key material a network
// of `murmur peer`s needs (docs/runtime.md, "Three machines").
//  * keygen writes DIR/peer.key (an Ed25519 key file, the format
//    `murmur peer --key` loads) and, unless --no-network-key, DIR/net.key
//    (a network key for `--network-key`), both mode 0600; it refuses to
//    overwrite either and prints the new public key (64 hex digits, the
//    form an allowlist line "PUBKEY SLOT" takes) on stdout;
//  * id prints the public half of a key file the same way.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace murmur::cli {

struct KeygenOptions {
  std::string dir;
  bool no_network_key = false;
};

struct IdOptions {
  std::string key_path;
};

CLI::App* AddKeygenCommand(CLI::App& app, KeygenOptions& options);
CLI::App* AddIdCommand(CLI::App& app, IdOptions& options);
// Exit codes: 0; 2 for a user error (a file already there, an unreadable,
// malformed or group-readable key file), 1 when writing fails.
int KeygenCommand(const KeygenOptions& options);
int IdCommand(const IdOptions& options);

}  // namespace murmur::cli
