// Outputs that appear only when complete, and the temporaries a killed run leaves behind.
//
// Everything aiok writes goes first to a temporary name beside its target — `<path>.tmp-<pid>`
// — and is renamed into place once complete; a directory being replaced is first moved to
// `<path>.old-<pid>`. A run killed half way leaves those names behind (with a spill file of
// any size inside), so the next run that writes the same output removes the ones whose
// process no longer runs, and says so with -v.
#pragma once

#include <string>

namespace aiok {

/// `path`.tmp-<this process's pid>.
std::string TemporaryPath(const std::string& path);

/// Removes `path`.tmp-<pid> and `path`.old-<pid> (files or directories) whose process is
/// gone. Those of live processes — another run writing the same output — are left alone.
void RemoveStaleTemporaries(const std::string& path);

/// Throws Error(kIo) unless `out_dir` is absent, an empty directory, or an earlier output of
/// the same kind (it holds `marker`, e.g. schema.json): a run never replaces a directory that
/// holds something else. `what` names the kind in the message ("a dataset directory").
void CheckReplaceable(const std::string& out_dir, const std::string& marker,
                      const std::string& what);

/// Throws Error(kUsage) when writing `output` would replace or remove `input` (an existing
/// file or directory): the same file (same device and inode, also through another path, a
/// symbolic link or a hard link), `input` inside the directory `output` (an output directory
/// is replaced as a whole), or `output` an existing part of the directory `input`. The names
/// are the flags or arguments that gave them ("--input", "--out").
void CheckOutputKeepsInput(const std::string& input, const std::string& input_name,
                           const std::string& output, const std::string& output_name);

/// A directory written under a temporary name and renamed into place when complete.
class StagingDirectory {
 public:
  /// Removes stale temporaries of `out_dir`, then creates (fresh) TemporaryPath(out_dir).
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

/// Renames the complete file `temp` over `path`; on failure removes `temp` and throws
/// Error(kIo) naming both.
void PublishFile(const std::string& temp, const std::string& path);

}  // namespace aiok
