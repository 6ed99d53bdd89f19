// `aiok schema`: what aiok reads from a raw table — `infer` guesses a schema to edit, `check`
// reads a whole file with a schema and shows the typed rows it gets.
#pragma once

#include <CLI/CLI.hpp>

namespace aiok::cli {

void AddSchemaCommand(CLI::App& app);

}  // namespace aiok::cli
