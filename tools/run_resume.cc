#include "run_resume.h"

#include <sstream>
#include <toml++/toml.h>

namespace murmur::cli {

Result<uint64_t> RunConfigHash(const std::string& resolved_toml) {
  toml::table table;
  try {
    table = toml::parse(resolved_toml);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument("the resolved config does not parse: ", e.description());
  }
  table.erase("threads");
  if (toml::table* sim = table["sim"].as_table()) sim->erase("snapshot_every_s");
  std::ostringstream text;
  text << toml::toml_formatter(table);
  const std::string s = text.str();
  return Fnv1a64({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

Result<ResumedRun> OpenResumedRun(const std::string& dir, uint64_t config_hash) {
  MURMUR_ASSIGN_OR_RETURN(LoadedSnapshot snapshot, ReadSnapshotFile(dir, config_hash));
  MURMUR_ASSIGN_OR_RETURN(
      MetricsWriter writer,
      MetricsWriter::Reopen(dir, snapshot.header.jsonl_bytes, snapshot.header.csv_bytes));
  return ResumedRun{.snapshot = std::move(snapshot), .writer = std::move(writer)};
}

}  // namespace murmur::cli
