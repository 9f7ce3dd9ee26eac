// The `lpm` command line: parses the arguments and runs one command. Exit codes: 0, 1 for a
// failed command, 2 for a usage error.
#pragma once

namespace lpm::cli {

int lpm_main(int argc, const char *const *argv);

} // namespace lpm::cli
