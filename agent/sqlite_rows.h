// Walking a statement's result rows with errors as values.
#pragma once

#include "lpm/sqlite.h"

namespace lpm::agent {

// Steps `st` to the end, calling on_row() for each row (read the columns from `st` there);
// stops at the first step error or on_row error and returns it.
template <class OnRow> Status for_each_row(Stmt &st, OnRow &&on_row) {
  for (;;) {
    auto row = st.step();
    if (!row.ok()) return row.error();
    if (!*row) return {};
    Status s = on_row();
    if (!s.ok()) return s;
  }
}

} // namespace lpm::agent
