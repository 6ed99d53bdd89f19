#include "aiok/etl/etl_source.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>

namespace aiok::etl {
namespace fs = std::filesystem;

std::unique_ptr<data::MappedFile> OpenTruth(const std::string& input, int64_t records) {
  const std::string path = (fs::path(input).parent_path() / "truth.f32").string();
  if (!fs::exists(path))
    return nullptr;
  auto truth = std::make_unique<data::MappedFile>(path);
  if (truth->size() != static_cast<size_t>(records) * sizeof(float)) {
    spdlog::warn("ignoring {}: {} bytes, expected {} for {} records", path, truth->size(),
                 records * 4, records);
    return nullptr;
  }
  return truth;
}

nlohmann::json SourceJson(const std::string& input, const std::string& format, int64_t bytes,
                          int64_t records, const data::MappedFile* truth) {
  struct stat info {};
  ::stat(input.c_str(), &info);
  char mtime[32];
  std::tm tm{};
  gmtime_r(&info.st_mtime, &tm);
  std::strftime(mtime, sizeof mtime, "%Y-%m-%dT%H:%M:%SZ", &tm);
  nlohmann::json json = {{"path", fs::absolute(input).string()},
                         {"format", format},
                         {"bytes", bytes},
                         {"mtime", mtime},
                         {"lines", records}};
  if (truth)
    json["truth"] = fs::absolute(truth->path()).string();
  return json;
}

}  // namespace aiok::etl
