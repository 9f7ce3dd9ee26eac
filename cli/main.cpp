// lpm: the command-line tool for users and administrators.
#include "app.h"

int main(int argc, char **argv) {
  return lpm::cli::lpm_main(argc, argv);
}
