// What the directory store's source files share and nothing else sees.
#pragma once

#include <string>
#include <string_view>

#include "directory_store.h"

namespace lpm::directory::store_detail {

inline bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// The columns user_from_row reads, in its order.
inline constexpr const char *kUserColumns =
    "SELECT u.id, u.email, u.first_name, u.last_name, u.display_name, u.short_name, u.department, "
    "u.cost_center, u.custom_attributes, u.created_ms, u.updated_ms, "
    "EXISTS (SELECT 1 FROM passwords p WHERE p.user_id = u.id) FROM users u ";
User user_from_row(const Stmt &stmt);

// bad_request naming the field when a profile field is too long or holds a control character.
Status user_field_check(const char *name, std::string_view value);

// Runs a statement with one text parameter to completion.
Status run_with(Db &db, const char *sql, std::string_view key);

} // namespace lpm::directory::store_detail
