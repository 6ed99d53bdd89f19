// `aiok train` as a user runs it: the model list, the chosen model's flags, usage errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {
namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

RunResult RunAiok(const std::string& args) {
  const fs::path dir = fs::temp_directory_path() / ("aiok_train_cli_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string command = std::string(AIOK_BINARY) + " " + args + " >" +
                              (dir / "out").string() + " 2>" + (dir / "err").string() +
                              " </dev/null";
  const int status = std::system(command.c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  for (auto [file, text] : {std::pair{"out", &result.out}, std::pair{"err", &result.err}}) {
    std::ifstream in(dir / file);
    std::stringstream buffer;
    buffer << in.rdbuf();
    *text = buffer.str();
  }
  fs::remove_all(dir);
  return result;
}

TEST(TrainCli, ListModelsShowsEachModelWithItsOptions) {
  const RunResult r = RunAiok("train --list-models");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("dlrm: DLRM"), std::string::npos) << r.out;
  for (const char* option :
       {"--preset TEXT", "--emb-dim INT", "--mlp-bot", "--mlp-top", "--interaction", "--pooling"}) {
    EXPECT_NE(r.out.find(option), std::string::npos) << option << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("default dlrm-kaggle; one of dlrm-kaggle, dlrm-small, dlrm-tiny"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("default 0; 0 to 4096"), std::string::npos) << r.out;
}

TEST(TrainCli, TheChosenModelsOptionsAreFlags) {
  const RunResult help = RunAiok("train --model dlrm --help");
  ASSERT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("--emb-dim"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--pooling"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--list-models"), std::string::npos) << help.out;
  // An unknown model: a usage error that lists the valid ones.
  const RunResult unknown = RunAiok("train --model wnd --data d --out o");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("wnd not in {dlrm}"), std::string::npos) << unknown.err;
  // A bad value of a model option names the flag.
  const RunResult bad = RunAiok("train --data d --out o --pooling max");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--pooling"), std::string::npos) << bad.err;
  // --data and --out are still required for training.
  const RunResult no_data = RunAiok("train --out o");
  EXPECT_EQ(no_data.exit_code, 2);
  EXPECT_NE(no_data.err.find("--data is required"), std::string::npos) << no_data.err;
}

}  // namespace
