// lpm: the command-line tool for users and administrators.
#include "app.h"
#include "lpm/protocol/stream.h"

int main(int argc, char **argv) {
  lpm::proto::ignore_sigpipe();
  return lpm::cli::lpm_main(argc, argv);
}
