// PDFs rewritten by qpdf for the page-count tests (test_page_count.cpp): object streams, a
// compressed cross-reference stream, encryption. The implementation is a C++17 unit, as
// agent/page_count_pdf.cpp is (agent/page_count_qpdf.h says why), so this header is C++17 too.
#pragma once

#include <string>

namespace lpm::agent::test {

// `pdf` as qpdf writes it with generated object streams; encrypted (AES-256, empty user
// password, any viewer opens it) when asked.
std::string rewritten_by_qpdf(const std::string &pdf, bool encrypt);

} // namespace lpm::agent::test
