// Writing an output directory so that it appears only when complete: everything goes into a
// staging directory beside it, renamed into place at the end.
#pragma once

#include <string>

namespace aiok::etl {

/// Throws Error(kIo) unless `out_dir` is absent, empty, or an earlier dataset directory (has
/// schema.json): a run never replaces a directory that holds something else.
void CheckReplaceable(const std::string& out_dir);

class StagingDirectory {
 public:
  /// Creates (fresh) `out_dir`.tmp-<pid>.
  explicit StagingDirectory(std::string out_dir);
  /// Removes the staging directory unless published.
  ~StagingDirectory();
  StagingDirectory(const StagingDirectory&) = delete;
  StagingDirectory& operator=(const StagingDirectory&) = delete;

  const std::string& path() const { return path_; }
  /// Moves the staging directory to `out_dir`, replacing an earlier one.
  void Publish();

 private:
  std::string out_dir_;
  std::string path_;
  bool published_ = false;
};

}  // namespace aiok::etl
