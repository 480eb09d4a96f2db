// Writers of dataset files in their real formats, for the reader tests and
// the bring-your-own-data scenario: a per-test temp directory, LEAF JSON
// files, and (zip_writer.h) .npy members and zip archives. Header-only so
// that learn_test needs no extra library.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/zip_writer.h"

namespace murmur::testing {

// A fresh directory per test (named after it and the process), removed at
// the end of the scope.
class DataDir {
 public:
  DataDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("murmur_data_" + std::to_string(getpid()) + "_" + info->test_suite_name() + "_" +
             info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~DataDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void WriteText(const std::string& path, const std::string& text) {
  WriteBytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

// One LEAF user: its name and samples (x and y as JSON values).
struct LeafUser {
  std::string name;
  std::vector<nlohmann::json> x;
  std::vector<nlohmann::json> y;
};

// A LEAF JSON file: {"users": [...], "num_samples": [...], "user_data": {...}}.
inline void WriteLeafFile(const std::string& path, const std::vector<LeafUser>& users) {
  nlohmann::json doc;
  doc["users"] = nlohmann::json::array();
  doc["num_samples"] = nlohmann::json::array();
  doc["user_data"] = nlohmann::json::object();
  for (const LeafUser& u : users) {
    doc["users"].push_back(u.name);
    doc["num_samples"].push_back(u.x.size());
    doc["user_data"][u.name] = {{"x", u.x}, {"y", u.y}};
  }
  WriteText(path, doc.dump());
}

}  // namespace murmur::testing
